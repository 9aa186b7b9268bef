/**
 * The Docker token scope grammar:
 *
 *   scope          := resourcescope [ ' ' resourcescope ]*
 *   resourcescope  := resourcetype ':' resourcename ':' action [ ',' action ]*
 *   resourcetype   := typevalue [ '(' typevalue ')' ]      e.g. repository(plugin)
 *   resourcename   := [ hostname '/' ] component [ '/' component ]*
 *
 * A name may contain `host:port`, so the type ends at the FIRST colon and the actions
 * start after the LAST one.
 */
import { AuthError } from './errors.ts';

export interface Scope {
  /** "repository", "registry", ... */
  type: string;
  /** The optional `(class)` of the type, e.g. "plugin" in `repository(plugin)`. */
  class?: string;
  name: string;
  /** Requested or granted actions, deduplicated, in first-seen order. */
  actions: string[];
}

const TYPE_RE = /^([a-z0-9]+)(?:\(([a-z0-9]+)\))?$/;
const ACTION_RE = /^(?:\*|[a-z][a-z0-9_-]*)$/;
const NAME_RE = /^[^\s:,"]+(?::[0-9]+)?(?:\/[^\s:,"]+)*$/;

/** Parse one resource scope; throws INVALID_REQUEST on anything malformed. */
export function parseScope(text: string): Scope {
  if (text.length > MAX_SCOPE_LENGTH) throw invalid(text, `longer than ${MAX_SCOPE_LENGTH} characters`);
  const first = text.indexOf(':');
  const last = text.lastIndexOf(':');
  if (first <= 0 || last === first) throw invalid(text, 'expected type:name:actions');
  const typeText = text.slice(0, first);
  const name = text.slice(first + 1, last);
  const actionsText = text.slice(last + 1);
  const typeMatch = TYPE_RE.exec(typeText);
  if (!typeMatch) throw invalid(text, 'bad resource type');
  if (name === '' || !NAME_RE.test(name)) throw invalid(text, 'bad resource name');
  const actions = dedupe(actionsText.split(',').filter((a) => a !== ''));
  for (const action of actions) {
    if (!ACTION_RE.test(action)) throw invalid(text, 'bad action');
  }
  const scope: Scope = { type: typeMatch[1] as string, name, actions };
  if (typeMatch[2] !== undefined) scope.class = typeMatch[2];
  return scope;
}

export function formatScope(scope: Scope): string {
  const type = scope.class === undefined ? scope.type : `${scope.type}(${scope.class})`;
  return `${type}:${scope.name}:${scope.actions.join(',')}`;
}

/**
 * Parse the `scope` parameters of a token request: repeated on GET, space-separated on
 * the OAuth2 POST (and some clients space-join on GET too). Scopes on the same resource are
 * merged, so the result has one entry per type/class/name.
 */
export function parseScopeParams(values: string | readonly string[] | undefined): Scope[] {
  if (values === undefined) return [];
  const list = typeof values === 'string' ? [values] : values;
  const scopes: Scope[] = [];
  for (const value of list) {
    for (const part of value.split(' ')) {
      if (part === '') continue;
      // Each scope costs a project lookup: bound the work one request can ask for.
      if (scopes.length === MAX_SCOPES_PER_REQUEST) {
        throw new AuthError('INVALID_REQUEST', `at most ${MAX_SCOPES_PER_REQUEST} scopes per token request`);
      }
      scopes.push(parseScope(part));
    }
  }
  return mergeScopes(scopes);
}

/** Real clients ask for a handful (a push with mounts: a few repositories). */
export const MAX_SCOPES_PER_REQUEST = 100;
const MAX_SCOPE_LENGTH = 1024;

/** Merge scopes on the same resource (union of actions, first-seen order). */
export function mergeScopes(scopes: readonly Scope[]): Scope[] {
  const byKey = new Map<string, Scope>();
  for (const scope of scopes) {
    const key = `${scope.type}\u0000${scope.class ?? ''}\u0000${scope.name}`;
    const existing = byKey.get(key);
    if (existing) {
      existing.actions = dedupe([...existing.actions, ...scope.actions]);
    } else {
      const copy: Scope = { type: scope.type, name: scope.name, actions: dedupe(scope.actions) };
      if (scope.class !== undefined) copy.class = scope.class;
      byKey.set(key, copy);
    }
  }
  return [...byKey.values()];
}

/**
 * The actions an HTTP method needs on a repository: reads pull, writes pull and push
 * (a push reads back what it wrote), DELETE delete. Undefined for methods /v2 never allows.
 */
export function actionsForMethod(method: string): readonly string[] | undefined {
  switch (method.toUpperCase()) {
    case 'GET':
    case 'HEAD':
      return ['pull'];
    case 'POST':
    case 'PUT':
    case 'PATCH':
      return ['pull', 'push'];
    case 'DELETE':
      return ['delete'];
    default:
      return undefined;
  }
}

/** The project of a repository: its first path component; undefined for one-component names. */
export function projectOf(repository: string): string | undefined {
  const slash = repository.indexOf('/');
  if (slash <= 0) return undefined;
  return repository.slice(0, slash);
}

function dedupe(values: readonly string[]): string[] {
  return [...new Set(values)];
}

function invalid(text: string, why: string): AuthError {
  // The scope text is client input, never a secret; quote a bounded prefix of it.
  return new AuthError('INVALID_REQUEST', `invalid scope "${text.slice(0, 256)}": ${why}`);
}
