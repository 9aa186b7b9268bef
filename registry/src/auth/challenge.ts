/**
 * WWW-Authenticate challenges and Authorization header parsing (RFC 7235 / RFC 7617 /
 * RFC 6750), shared by /v2, /api and the token endpoint.
 */
import { formatScope, type Scope } from './scope.ts';

export interface BearerChallenge {
  /** Absolute URL of the token endpoint, e.g. https://registry.example/service/token. */
  realm: string;
  service: string;
  scopes?: readonly Scope[];
  /** RFC 6750 error: "invalid_token" for a bad token, "insufficient_scope" for too few rights. */
  error?: 'invalid_token' | 'insufficient_scope';
}

export function formatBearerChallenge(challenge: BearerChallenge): string {
  const params = [`realm=${quote(challenge.realm)}`, `service=${quote(challenge.service)}`];
  if (challenge.scopes && challenge.scopes.length > 0) {
    params.push(`scope=${quote(challenge.scopes.map(formatScope).join(' '))}`);
  }
  if (challenge.error) params.push(`error=${quote(challenge.error)}`);
  return `Bearer ${params.join(',')}`;
}

export function formatBasicChallenge(realm: string): string {
  return `Basic realm=${quote(realm)},charset="UTF-8"`;
}

export type Credentials =
  | { scheme: 'basic'; username: string; password: string }
  | { scheme: 'bearer'; token: string };

/**
 * Parse an Authorization header. Undefined when absent; null when present but malformed
 * (the caller answers 401 rather than treating the request as anonymous).
 */
export function parseAuthorization(header: string | string[] | undefined): Credentials | undefined | null {
  if (header === undefined) return undefined;
  if (Array.isArray(header)) {
    if (header.length !== 1) return header.length === 0 ? undefined : null;
    header = header[0] as string;
  }
  const space = header.indexOf(' ');
  if (space <= 0) return null;
  const scheme = header.slice(0, space).toLowerCase();
  const value = header.slice(space + 1).trim();
  if (value === '') return null;
  if (scheme === 'bearer') return { scheme: 'bearer', token: value };
  if (scheme !== 'basic') return null;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value)) return null;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  // The user name ends at the first colon; passwords may contain colons (RFC 7617).
  return { scheme: 'basic', username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function quote(value: string): string {
  return `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}
