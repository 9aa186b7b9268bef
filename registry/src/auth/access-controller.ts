/**
 * The /v2 AccessController (registry/src/http/access.ts) backed by token auth:
 *
 *  - Bearer: the JWT must verify and its `access` claim must cover what the route wants;
 *    otherwise 401 with a challenge (error="invalid_token" / "insufficient_scope") so
 *    clients fetch a new token, as CNCF Distribution does.
 *  - Basic (scripts): the credentials are checked like at the token endpoint (same rate
 *    limit), then the wanted actions are granted or refused with 403 DENIED.
 *  - Nothing: anonymous, allowed where an anonymous caller may act (public pull), else 401
 *    with the Bearer challenge naming the scope to ask for.
 */
import type { AccessCallerRequest, AccessController, AccessDecision, AccessRequest } from '../http/access.ts';
import type { PasswordAuthenticator } from './authenticator.ts';
import { formatBearerChallenge, parseAuthorization } from './challenge.ts';
import { AuthError } from './errors.ts';
import { grantScopes } from './grant.ts';
import { ANONYMOUS, type Principal, type ProjectDirectory } from './identity.ts';
import type { Scope } from './scope.ts';
import { accessCovers, type TokenVerifier } from './tokens.ts';

export interface RegistryAccessControllerOptions {
  /** Absolute URL of the token endpoint (`<external URL>/service/token`). */
  realm: string;
  service: string;
  verifier: TokenVerifier;
  authenticator: PasswordAuthenticator;
  projects: ProjectDirectory;
  now?: () => Date;
}

/** The seam's request, plus the client address when the HTTP layer knows it (for rate limiting). */
export type AccessCallerRequestWithAddress = AccessCallerRequest & { clientAddress?: string };

export class RegistryAccessController implements AccessController {
  private readonly options: RegistryAccessControllerOptions;
  private readonly now: () => Date;

  constructor(options: RegistryAccessControllerOptions) {
    this.options = options;
    this.now = options.now ?? (() => new Date());
  }

  async authorize(request: AccessCallerRequestWithAddress, wanted: AccessRequest[]): Promise<AccessDecision> {
    const toScope = (w: AccessRequest): Scope => ({ type: w.type, name: w.name, actions: [...w.actions] });
    // What is decided on; a challenge also names the optional scopes, so the token a client
    // fetches for it can cover them.
    const scopes: Scope[] = wanted.filter((w) => !w.optional).map(toScope);
    const challengeScopes: Scope[] = wanted.map(toScope);
    const credentials = parseAuthorization(request.headers['authorization']);
    if (credentials === null) return this.unauthorized(challengeScopes, 'malformed Authorization header', 'invalid_token');

    if (credentials?.scheme === 'bearer') {
      let claims;
      try {
        claims = await this.options.verifier.verifyAccessToken(credentials.token);
      } catch (err) {
        if (err instanceof AuthError) return this.unauthorized(challengeScopes, err.message, 'invalid_token');
        throw err;
      }
      if (accessCovers(claims.access, scopes)) return subjectDecision(claims.sub);
      if (claims.sub === '') return this.unauthorized(challengeScopes, 'authentication required', 'insufficient_scope');
      return { ...this.unauthorized(challengeScopes, await this.insufficientMessage(scopes), 'insufficient_scope'), subject: claims.sub };
    }

    let principal: Principal = ANONYMOUS;
    if (credentials?.scheme === 'basic') {
      try {
        principal = await this.options.authenticator.authenticate(credentials.username, credentials.password, request.clientAddress, 'basic');
      } catch (err) {
        // The seam has no 429; a locked-out caller is told why in the message.
        if (err instanceof AuthError) return this.unauthorized(challengeScopes, err.message);
        throw err;
      }
    } else if (scopes.length === 0) {
      // GET /v2/ without credentials: the challenge that starts every client's login.
      return this.unauthorized(challengeScopes, 'authentication required');
    }

    const grants = await grantScopes(principal, scopes, this.options.projects, this.now());
    const missing = grants.find((g) => g.granted.actions.length < g.requested.actions.length);
    if (missing === undefined) return principal.kind === 'anonymous' ? { ok: true } : subjectDecision(principal.name);
    // Anonymous callers learn nothing about which private projects exist.
    if (principal.kind === 'anonymous') return this.unauthorized(challengeScopes, 'authentication required');
    return { ok: false, status: 403, code: 'DENIED', message: describeRefusal(missing), subject: principal.name };
  }

  private unauthorized(scopes: Scope[], message: string, error?: 'invalid_token' | 'insufficient_scope'): AccessDecision {
    const challenge = formatBearerChallenge({
      realm: this.options.realm,
      service: this.options.service,
      scopes,
      ...(error === undefined ? {} : { error }),
    });
    return { ok: false, status: 401, code: 'UNAUTHORIZED', challenge, message };
  }

  /** The token lacks a scope: say so, or that the project does not exist (the likelier mistake). */
  private async insufficientMessage(scopes: Scope[]): Promise<string> {
    for (const grant of await grantScopes(ANONYMOUS, scopes, this.options.projects, this.now())) {
      if (grant.project && !grant.project.exists) return describeRefusal(grant);
    }
    return 'the token does not grant the requested access';
  }
}

function subjectDecision(subject: string): AccessDecision {
  return subject === '' ? { ok: true } : { ok: true, subject };
}

function describeRefusal(grant: { requested: Scope; project?: { name: string | undefined; exists: boolean } }): string {
  const { requested, project } = grant;
  if (project && project.name === undefined) {
    return `repository ${requested.name} has no project: names are <project>/<repository>`;
  }
  if (project && !project.exists) return `project ${project.name} does not exist`;
  return `access to ${requested.type} ${requested.name} (${requested.actions.join(',')}) denied`;
}
