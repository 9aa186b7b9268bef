/**
 * Who is calling /api/v2.0: Basic credentials (scripts; the same PasswordAuthenticator, rate
 * limit and login audit as the token endpoint), else a session cookie (portal; writes need
 * the CSRF header), else anonymous. Bearer tokens are for /v2 and are refused here.
 */
import type { PasswordAuthenticator } from '../auth/authenticator.ts';
import { parseAuthorization } from '../auth/challenge.ts';
import { ANONYMOUS, userPrincipal, type IdentityStore, type Principal } from '../auth/identity.ts';
import { ApiError } from './errors.ts';
import { csrfMatches, CSRF_HEADER, SESSION_COOKIE, type SessionData, type SessionStore } from './sessions.ts';

export interface Caller {
  principal: Principal;
  via: 'basic' | 'session' | 'anonymous';
  /** The session, when authenticated by cookie (its CSRF token is echoed on responses). */
  session?: { id: string; data: SessionData };
}

export interface CallerRequest {
  method: string;
  headers: Record<string, string | string[] | undefined>;
  clientAddress: string;
}

export interface CallerDeps {
  authenticator: PasswordAuthenticator;
  identities: IdentityStore;
  sessions: SessionStore;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export async function identifyCaller(request: CallerRequest, deps: CallerDeps): Promise<Caller> {
  const credentials = parseAuthorization(request.headers['authorization']);
  if (credentials === null) throw new ApiError('UNAUTHORIZED', 'malformed Authorization header');
  if (credentials?.scheme === 'bearer') throw new ApiError('UNAUTHORIZED', 'the management API takes Basic credentials or a session');
  if (credentials?.scheme === 'basic') {
    const principal = await deps.authenticator.authenticate(credentials.username, credentials.password, request.clientAddress, 'basic');
    return { principal, via: 'basic' };
  }
  const sessionId = cookieValue(request.headers['cookie'], SESSION_COOKIE);
  if (sessionId === undefined) return { principal: ANONYMOUS, via: 'anonymous' };
  const data = await deps.sessions.get(sessionId);
  // A disabled, deleted or renamed user loses the session at once.
  const user = data && (await deps.identities.findUser(data.userName));
  if (data === undefined || user === undefined || user.id !== data.userId) return { principal: ANONYMOUS, via: 'anonymous' };
  if (!SAFE_METHODS.has(request.method.toUpperCase())) {
    const presented = request.headers[CSRF_HEADER.toLowerCase()];
    if (!csrfMatches(data, typeof presented === 'string' ? presented : undefined)) {
      throw new ApiError('FORBIDDEN', `CSRF token missing or invalid: send the ${CSRF_HEADER} header given at login`);
    }
  }
  return { principal: userPrincipal(user), via: 'session', session: { id: sessionId, data } };
}

export function cookieValue(header: string | string[] | undefined, name: string): string | undefined {
  const text = Array.isArray(header) ? header.join('; ') : header;
  if (!text) return undefined;
  for (const part of text.split(';')) {
    const index = part.indexOf('=');
    if (index > 0 && part.slice(0, index).trim() === name) return part.slice(index + 1).trim();
  }
  return undefined;
}
