/**
 * The one place errors become responses on /api/v2.0: Harbor's problem shape
 * `{"errors":[{"code":"NOT_FOUND","message":"..."}]}`, which Harbor scripts parse.
 * Handlers and domain modules throw typed errors (ApiError here, AuthError from the auth
 * layer, AccessStoreError from the metadata layer); unknown errors become 500 without
 * internals and are logged with the request id.
 */
import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import { AuthError } from '../auth/errors.ts';
import { isAccessStoreError, ProjectNotEmptyError } from '../metadata/errors.ts';

/** Harbor's error codes with their statuses. */
export const API_ERROR_STATUS = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  PRECONDITION: 412,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  TOO_MANY_REQUESTS: 429,
  INTERNAL_SERVER_ERROR: 500,
} as const;
export type ApiErrorCode = keyof typeof API_ERROR_STATUS;

export class ApiError extends Error {
  readonly code: ApiErrorCode;
  readonly status: number;
  readonly headers: Record<string, string>;

  constructor(code: ApiErrorCode, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = API_ERROR_STATUS[code];
    this.headers = headers;
  }
}

export interface ProblemBody {
  errors: Array<{ code: string; message: string }>;
}

const AUTH_TO_API: Record<AuthError['code'], ApiErrorCode> = {
  UNAUTHORIZED: 'UNAUTHORIZED',
  DENIED: 'FORBIDDEN',
  TOOMANYREQUESTS: 'TOO_MANY_REQUESTS',
  INVALID_REQUEST: 'BAD_REQUEST',
  UNSUPPORTED_GRANT_TYPE: 'BAD_REQUEST',
};

/** Any thrown value → the ApiError to answer with, or undefined for an unexpected failure. */
export function toApiError(err: unknown): ApiError | undefined {
  if (err instanceof ApiError) return err;
  if (err instanceof AuthError) {
    const headers: Record<string, string> = {};
    if (err.retryAfterSeconds !== undefined) headers['Retry-After'] = String(err.retryAfterSeconds);
    return new ApiError(AUTH_TO_API[err.code], err.message, headers);
  }
  if (err instanceof ProjectNotEmptyError) return new ApiError('PRECONDITION', err.message);
  if (isAccessStoreError(err)) {
    const code = err.code === 'not_found' ? 'NOT_FOUND' : err.code === 'conflict' ? 'CONFLICT' : 'BAD_REQUEST';
    return new ApiError(code, err.message);
  }
  return undefined;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The error middleware of /api (and the session login routes). */
export function apiErrorResponse(logger: Logger): Middleware {
  return async (ctx, next) => {
    // Reuse the id an outer middleware (the /v2 error middleware) already gave this request.
    const incoming = typeof ctx.state.requestId === 'string' ? ctx.state.requestId : ctx.get('X-Request-Id');
    const requestId = REQUEST_ID.test(incoming) ? incoming : randomUUID();
    ctx.state.requestId = requestId;
    ctx.set('X-Request-Id', requestId);
    const started = Date.now();
    try {
      await next();
    } catch (err) {
      const apiError = toApiError(err);
      if (apiError === undefined) {
        logger.error({ err, requestId, method: ctx.method, path: ctx.path }, 'api request failed');
      }
      const answer = apiError ?? new ApiError('INTERNAL_SERVER_ERROR', `internal error (request ${requestId})`);
      ctx.status = answer.status;
      ctx.set(answer.headers);
      const body: ProblemBody = { errors: [{ code: answer.code, message: answer.message }] };
      ctx.body = body;
    } finally {
      // The path only: query strings and bodies may carry credentials, headers do.
      logger.debug({ requestId, method: ctx.method, path: ctx.path, status: ctx.status, ms: Date.now() - started }, 'api request');
    }
  };
}
