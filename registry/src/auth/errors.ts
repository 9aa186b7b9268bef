/**
 * Typed errors of the auth layer. Domain code throws these; the HTTP layer maps `status`
 * and `code` to a response in one place (OCI `{"errors":[...]}` on /v2 and the token
 * endpoint, the problem shape on /api). Messages are safe to show: they never carry a
 * password, secret or token.
 */
export type AuthErrorCode =
  | 'UNAUTHORIZED'
  | 'DENIED'
  | 'TOOMANYREQUESTS'
  | 'INVALID_REQUEST'
  | 'UNSUPPORTED_GRANT_TYPE';

export const AUTH_ERROR_STATUS: Readonly<Record<AuthErrorCode, 400 | 401 | 403 | 429>> = {
  UNAUTHORIZED: 401,
  DENIED: 403,
  TOOMANYREQUESTS: 429,
  INVALID_REQUEST: 400,
  UNSUPPORTED_GRANT_TYPE: 400,
};

export class AuthError extends Error {
  readonly code: AuthErrorCode;
  readonly status: 400 | 401 | 403 | 429;
  /** For TOOMANYREQUESTS: seconds until a new attempt may succeed (the Retry-After header). */
  readonly retryAfterSeconds: number | undefined;

  constructor(code: AuthErrorCode, message: string, options: { retryAfterSeconds?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AuthError';
    this.code = code;
    this.status = AUTH_ERROR_STATUS[code];
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

export function isAuthError(err: unknown): err is AuthError {
  return err instanceof AuthError;
}
