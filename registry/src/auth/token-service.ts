/**
 * The token endpoint (`/service/token`) as a plain function of the request, for the Docker
 * token spec (GET) and its OAuth2 form (POST):
 *
 *  GET  ?service=&scope=…&scope=…&account=&offline_token=&client_id=   Basic or anonymous
 *  POST grant_type=password&username=&password=&service=&scope=a b&client_id=&access_type=
 *  POST grant_type=refresh_token&refresh_token=&service=&scope=…&client_id=
 *
 * The `access` claim is requested ∩ allowed: a scope the caller may not have is dropped,
 * never an error, as the spec asks. Wrong credentials are UNAUTHORIZED.
 */
import { AuthError } from './errors.ts';
import { grantScopes } from './grant.ts';
import { ANONYMOUS, robotIsActive, robotPrincipal, userPrincipal, type IdentityStore, type Principal, type ProjectDirectory } from './identity.ts';
import type { PasswordAuthenticator } from './authenticator.ts';
import { formatBasicChallenge, parseAuthorization } from './challenge.ts';
import { formatScope, parseScopeParams, type Scope } from './scope.ts';
import type { TokenIssuer, TokenVerifier } from './tokens.ts';

export interface TokenRequest {
  method: string;
  /** Query parameters (GET) or url-encoded form fields (POST); repeated keys as arrays. */
  params: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** The raw Authorization header, if any. */
  authorization?: string | string[] | undefined;
  clientAddress: string;
}

export interface TokenResponseBody {
  token: string;
  access_token: string;
  expires_in: number;
  /** RFC 3339 (containerd parses it). */
  issued_at: string;
  refresh_token?: string;
  /** OAuth2 (POST) responses: the granted scopes, space-separated. */
  scope?: string;
}

export interface TokenServiceOptions {
  /** The registry's service name: the token audience and the `service` parameter expected. */
  service: string;
  issuer: TokenIssuer;
  verifier: TokenVerifier;
  authenticator: PasswordAuthenticator;
  identities: IdentityStore;
  projects: ProjectDirectory;
  now?: () => Date;
}

export class TokenService {
  private readonly options: TokenServiceOptions;
  private readonly now: () => Date;

  constructor(options: TokenServiceOptions) {
    this.options = options;
    this.now = options.now ?? (() => new Date());
  }

  /** Throws AuthError: INVALID_REQUEST/UNSUPPORTED_GRANT_TYPE (400), UNAUTHORIZED (401), TOOMANYREQUESTS (429). */
  async handle(request: TokenRequest): Promise<TokenResponseBody> {
    const method = request.method.toUpperCase();
    const service = single(request.params, 'service');
    if (service !== undefined && service !== this.options.service) {
      throw new AuthError('INVALID_REQUEST', `unknown service "${service.slice(0, 256)}"`);
    }
    const scopes = parseScopeParams(request.params['scope']);
    if (method === 'GET') return this.handleGet(request, scopes);
    if (method === 'POST') return this.handlePost(request, scopes);
    throw new AuthError('INVALID_REQUEST', `method ${method} is not supported by the token endpoint`);
  }

  private async handleGet(request: TokenRequest, scopes: Scope[]): Promise<TokenResponseBody> {
    const credentials = parseAuthorization(request.authorization);
    if (credentials === null || credentials?.scheme === 'bearer') {
      throw new AuthError('UNAUTHORIZED', 'the token endpoint accepts Basic credentials only');
    }
    const principal =
      credentials === undefined
        ? ANONYMOUS
        : await this.options.authenticator.authenticate(credentials.username, credentials.password, request.clientAddress);
    const offline = single(request.params, 'offline_token') === 'true';
    return this.respond(principal, scopes, offline && principal.kind !== 'anonymous', false);
  }

  private async handlePost(request: TokenRequest, scopes: Scope[]): Promise<TokenResponseBody> {
    const grantType = single(request.params, 'grant_type');
    if (grantType === 'password') {
      let username = single(request.params, 'username');
      let password = single(request.params, 'password');
      if (username === undefined || password === undefined) {
        const credentials = parseAuthorization(request.authorization);
        if (credentials?.scheme === 'basic') ({ username, password } = credentials);
      }
      if (username === undefined || password === undefined) {
        throw new AuthError('INVALID_REQUEST', 'grant_type=password needs username and password');
      }
      const principal = await this.options.authenticator.authenticate(username, password, request.clientAddress);
      // Docker stores the refresh token instead of the password, so the password grant always gets one.
      return this.respond(principal, scopes, true, true);
    }
    if (grantType === 'refresh_token') {
      const refreshToken = single(request.params, 'refresh_token');
      if (refreshToken === undefined) throw new AuthError('INVALID_REQUEST', 'grant_type=refresh_token needs refresh_token');
      const principal = await this.principalOfRefreshToken(refreshToken);
      return this.respond(principal, scopes, false, true);
    }
    if (grantType === undefined) throw new AuthError('INVALID_REQUEST', 'grant_type is required');
    throw new AuthError('UNSUPPORTED_GRANT_TYPE', `grant_type "${grantType.slice(0, 64)}" is not supported`);
  }

  /** The refresh token names a principal; it must still exist (same id) and, for a robot, be active. */
  private async principalOfRefreshToken(token: string): Promise<Principal> {
    const claims = await this.options.verifier.verifyRefreshToken(token);
    if (claims.principal === 'user') {
      const user = await this.options.identities.findUser(claims.sub);
      if (user === undefined || user.id !== claims.uid) throw new AuthError('UNAUTHORIZED', 'refresh token subject no longer exists');
      return userPrincipal(user);
    }
    const robot = await this.options.identities.findRobot(claims.sub);
    if (robot === undefined || robot.id !== claims.uid) throw new AuthError('UNAUTHORIZED', 'refresh token subject no longer exists');
    if (!robotIsActive(robot, this.now())) throw new AuthError('UNAUTHORIZED', 'robot account is disabled or expired');
    return robotPrincipal(robot);
  }

  private async respond(principal: Principal, scopes: Scope[], withRefresh: boolean, oauth: boolean): Promise<TokenResponseBody> {
    const grants = await grantScopes(principal, scopes, this.options.projects, this.now());
    const access = grants.map((g) => g.granted).filter((s) => s.actions.length > 0);
    const subject = principal.kind === 'anonymous' ? '' : principal.name;
    const issued = await this.options.issuer.issueAccessToken({ subject, audience: this.options.service, access });
    const body: TokenResponseBody = {
      token: issued.token,
      access_token: issued.token,
      expires_in: issued.expiresIn,
      issued_at: issued.issuedAt.toISOString(),
    };
    if (withRefresh && principal.kind !== 'anonymous') {
      const refresh = await this.options.issuer.issueRefreshToken({ subject: principal.name, principal: principal.kind, uid: principal.id });
      body.refresh_token = refresh.token;
    }
    if (oauth) body.scope = access.map(formatScope).join(' ');
    return body;
  }
}

function single(params: TokenRequest['params'], key: string): string | undefined {
  const value = params[key];
  if (value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (value.length > 1) throw new AuthError('INVALID_REQUEST', `parameter ${key} given more than once`);
  return value[0];
}

/** OAuth2 (RFC 6749 §5.2) error names for each code, for clients that read `error`. */
const OAUTH_ERROR: Record<AuthError['code'], string> = {
  UNAUTHORIZED: 'invalid_grant',
  DENIED: 'access_denied',
  TOOMANYREQUESTS: 'slow_down',
  INVALID_REQUEST: 'invalid_request',
  UNSUPPORTED_GRANT_TYPE: 'unsupported_grant_type',
};

export interface TokenErrorResponse {
  status: number;
  headers: Record<string, string>;
  body: { errors: Array<{ code: string; message: string }>; error: string; error_description: string };
}

/**
 * The response for a token endpoint failure: the Docker `{"errors":[...]}` shape and the
 * OAuth2 `error`/`error_description` pair together, since clients read one or the other.
 * 401 carries a Basic challenge (the endpoint takes Basic credentials); 429 a Retry-After.
 */
export function tokenErrorResponse(err: AuthError, realm: string): TokenErrorResponse {
  const headers: Record<string, string> = {};
  if (err.status === 401) headers['WWW-Authenticate'] = formatBasicChallenge(realm);
  if (err.retryAfterSeconds !== undefined) headers['Retry-After'] = String(err.retryAfterSeconds);
  return {
    status: err.status,
    headers,
    body: { errors: [{ code: err.code, message: err.message }], error: OAUTH_ERROR[err.code], error_description: err.message },
  };
}
