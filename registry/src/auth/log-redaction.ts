/**
 * Keeping credentials out of logs. `AUTH_LOG_REDACT_PATHS` goes into pino's `redact`
 * option (the composition root builds the logger); `scrubCredentials` cleans free text
 * (error messages, URLs) before it is logged.
 */

/** pino/fast-redact paths of every place a credential can sit in a logged object. */
export const AUTH_LOG_REDACT_PATHS: readonly string[] = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'password',
  'secret',
  'token',
  'access_token',
  'refresh_token',
  '*.password',
  '*.secret',
  '*.token',
  '*.access_token',
  '*.refresh_token',
];

const AUTH_HEADER_RE = /\b(Basic|Bearer)\s+[A-Za-z0-9._~+/=-]+/gi;
const JWT_RE = /\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g;
const QUERY_SECRET_RE = /([?&](?:password|secret|token|access_token|refresh_token)=)[^&#\s]*/gi;
const URL_PASSWORD_RE = /(\b[a-z][a-z0-9+.-]*:\/\/[^:/?#\s@]*:)[^@/?#\s]*@/gi;

/** Replace Authorization values, JWTs, secret query parameters and URL passwords. */
export function scrubCredentials(text: string): string {
  return text
    .replace(AUTH_HEADER_RE, '$1 [redacted]')
    .replace(JWT_RE, '[redacted-jwt]')
    .replace(QUERY_SECRET_RE, '$1[redacted]')
    .replace(URL_PASSWORD_RE, '$1[redacted]@');
}
