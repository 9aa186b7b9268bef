/**
 * Validation of a raw configuration (parsed YAML plus environment overrides) against the
 * schema: defaults applied, every problem collected, one ConfigError listing all of them.
 */
import { accessSync, constants, readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { Kind } from '@sinclair/typebox';
import type { TSchema } from '@sinclair/typebox';
import { ValueErrorType } from '@sinclair/typebox/errors';
import type { ValueError } from '@sinclair/typebox/errors';
import { Value } from '@sinclair/typebox/value';
import { BerthConfigSchema, crossFieldProblems, secretKind } from './schema.ts';
import type { BerthConfig, ConfigProblem } from './schema.ts';

export class ConfigError extends Error {
  constructor(
    readonly problems: ConfigProblem[],
    /** Where the configuration came from, for the heading ("examples/x.yaml", "defaults"). */
    readonly source?: string,
  ) {
    const heading =
      `Invalid configuration${source ? ` (${source})` : ''}: ` +
      `${problems.length} problem${problems.length === 1 ? '' : 's'}`;
    super([heading, ...problems.map((p) => `  - ${formatProblem(p)}`)].join('\n'));
    this.name = 'ConfigError';
  }
}

export function formatProblem(problem: ConfigProblem): string {
  return problem.path ? `${problem.path}: ${problem.message}` : problem.message;
}

export interface ValidateOptions {
  /** Dotted path → what set it (e.g. "BERTH_HTTP_PORT"), appended to problems on that path. */
  sources?: ReadonlyMap<string, string>;
  /** Named in the ConfigError heading. */
  sourceName?: string;
  /** Problems found before validation (YAML syntax, unknown environment variables). */
  earlierProblems?: ConfigProblem[];
}

/** The embedded configuration: every default, nothing else. */
export function defaultConfig(): BerthConfig {
  return validateConfig({});
}

/**
 * Apply defaults and validate. Returns a new object (the input is not modified); throws
 * ConfigError listing every problem. Also checks that TLS files are readable and match.
 */
export function validateConfig(raw: unknown, options: ValidateOptions = {}): BerthConfig {
  const problems: ConfigProblem[] = [...(options.earlierProblems ?? [])];
  const value = Value.Default(BerthConfigSchema, withoutNulls(structuredClone(raw ?? {})));

  const seen = new Set<string>();
  for (const error of Value.Errors(BerthConfigSchema, value)) {
    const path = dottedPath(error.path);
    // TypeBox reports a missing property twice (required, then wrong type): keep the first.
    if (seen.has(path)) continue;
    seen.add(path);
    problems.push({ path, message: describe(error) });
  }

  // Rules across fields run even when the schema found problems, so one start lists them
  // all; a rule is dropped when the schema already reported something on the same path.
  const config = value as BerthConfig;
  const reported = [...seen];
  const overlaps = (path: string) => reported.some((r) => r === path || r.startsWith(`${path}.`) || path.startsWith(`${r}.`));
  let later: ConfigProblem[] = [];
  try {
    later = crossFieldProblems(config);
  } catch {
    // A section of the wrong shape: the schema problems already say so.
  }
  if (!overlaps('http.tls')) later.push(...tlsProblems(config));
  problems.push(...later.filter((p) => !overlaps(p.path)));

  if (problems.length > 0) {
    const sources = options.sources;
    throw new ConfigError(
      problems.map((p) => {
        const source = sources && sourceOf(sources, p.path);
        return source ? { path: p.path, message: `${p.message} (set by ${source})` } : p;
      }),
      options.sourceName,
    );
  }
  return value as BerthConfig;
}

/** YAML `tls:` with nothing after it parses as null: treat it as absent, like an omitted key. */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) {
      if (child !== null) out[key] = withoutNulls(child);
    }
    return out;
  }
  return value;
}

function dottedPath(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
}

function sourceOf(sources: ReadonlyMap<string, string>, path: string): string | undefined {
  // A problem on a section (e.g. "storage.s3.bucket: required") may come from an override below it.
  for (let p = path; p; p = p.includes('.') ? p.slice(0, p.lastIndexOf('.')) : '') {
    const source = sources.get(p);
    if (source) return source;
  }
  return undefined;
}

function describe(error: ValueError): string {
  const schema = error.schema as TSchema & Record<string, unknown>;
  const got = secretKind(schema) ? '' : ` (got ${show(error.value)})`;
  switch (error.type) {
    case ValueErrorType.ObjectAdditionalProperties: {
      const known = Object.keys((schema.properties as Record<string, unknown> | undefined) ?? {});
      return `unknown key (expected one of: ${known.join(', ')})`;
    }
    case ValueErrorType.ObjectRequiredProperty:
      return 'required';
    case ValueErrorType.Object:
      return `expected a mapping of keys to values${got}`;
    case ValueErrorType.Integer:
      return `expected a whole number${got}`;
    case ValueErrorType.Number:
      return `expected a number${got}`;
    case ValueErrorType.Boolean:
      return `expected true or false${got}`;
    case ValueErrorType.String:
      return `expected a string${got}`;
    case ValueErrorType.StringMinLength:
      return 'must not be empty';
    case ValueErrorType.IntegerMinimum:
    case ValueErrorType.NumberMinimum:
      return `must be at least ${String(schema.minimum)}${got}`;
    case ValueErrorType.IntegerMaximum:
    case ValueErrorType.NumberMaximum:
      return `must be at most ${String(schema.maximum)}${got}`;
    case ValueErrorType.Union: {
      const options = ((schema.anyOf as TSchema[] | undefined) ?? []).filter((s) => s[Kind] === 'Literal');
      if (options.length > 0) return `expected one of: ${options.map((s) => String(s.const)).join(', ')}${got}`;
      return `${error.message.toLowerCase()}${got}`;
    }
    default:
      return `${error.message.toLowerCase()}${got}`;
  }
}

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = typeof value === 'object' ? (Array.isArray(value) ? 'a list' : 'a mapping') : JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function tlsProblems(config: BerthConfig): ConfigProblem[] {
  const tls = config.http.tls;
  if (!tls) return [];
  const problems: ConfigProblem[] = [];
  const readable = (path: string, file: string) => {
    try {
      accessSync(file, constants.R_OK);
      return true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable' : `cannot be read (${code})`;
      problems.push({ path, message: `file ${file} ${why}` });
      return false;
    }
  };
  const certOk = readable('http.tls.certFile', tls.certFile);
  const keyOk = readable('http.tls.keyFile', tls.keyFile);
  if (certOk && keyOk) {
    try {
      createSecureContext({ cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) });
    } catch (error) {
      // OpenSSL's reason ("key values mismatch", "no start line") names no key material.
      const reason = (error as Error).message.replace(/^error:[0-9A-F]+:[^:]*:/i, '');
      problems.push({ path: 'http.tls', message: `certFile and keyFile are not a usable PEM certificate and key: ${reason}` });
    }
  }
  return problems;
}
