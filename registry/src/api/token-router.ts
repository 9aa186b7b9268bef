/**
 * GET/POST /service/token over the TokenService: query parameters (GET) or a url-encoded
 * form (POST, size-limited), Basic credentials, the client address for rate limiting.
 * Failures answer in the token endpoint's own shape (tokenErrorResponse).
 */
import type { Context, Middleware, Next } from 'koa';
import type { Logger } from 'pino';
import { TOKEN_PATH } from '../auth/config.ts';
import { AuthError } from '../auth/errors.ts';
import { tokenErrorResponse, type TokenService } from '../auth/token-service.ts';
import { readFormBody, searchParamsRecord } from './body.ts';
import { ApiError } from './errors.ts';

export interface TokenRouterDeps {
  tokens: TokenService;
  /** http.externalURL without a trailing slash (the Basic challenge's realm). */
  externalURL: string;
  logger: Logger;
  /** Largest POST form accepted; default 16 KiB. */
  formLimitBytes?: number;
}

export function createTokenRouter(deps: TokenRouterDeps): Middleware {
  const realm = `${deps.externalURL.replace(/\/+$/, '')}${TOKEN_PATH}`;
  const limit = deps.formLimitBytes ?? 16 * 1024;
  return async (ctx: Context, next: Next) => {
    if (ctx.path !== TOKEN_PATH) return next();
    ctx.set('Cache-Control', 'no-store');
    const started = Date.now();
    try {
      if (ctx.method !== 'GET' && ctx.method !== 'POST') {
        ctx.set('Allow', 'GET, POST');
        throw new AuthError('INVALID_REQUEST', `method ${ctx.method} is not supported by the token endpoint`);
      }
      const params = ctx.method === 'POST' ? await readFormBody(ctx.req, limit) : searchParamsRecord(new URLSearchParams(ctx.querystring));
      const body = await deps.tokens.handle({ method: ctx.method, params, authorization: ctx.headers['authorization'], clientAddress: ctx.ip });
      ctx.status = 200;
      ctx.body = body;
    } catch (err) {
      let authError: AuthError | undefined;
      if (err instanceof AuthError) authError = err;
      else if (err instanceof ApiError && err.status < 500) authError = new AuthError('INVALID_REQUEST', err.message);
      if (authError === undefined) {
        deps.logger.error({ err, path: ctx.path }, 'token request failed');
        ctx.status = 500;
        ctx.body = { errors: [{ code: 'UNKNOWN', message: 'internal error' }], error: 'server_error', error_description: 'internal error' };
        return;
      }
      const response = tokenErrorResponse(authError, realm);
      ctx.status = err instanceof ApiError ? err.status : response.status;
      ctx.set(response.headers);
      ctx.body = response.body;
    } finally {
      // Never the query or form: they carry passwords and refresh tokens.
      deps.logger.debug({ method: ctx.method, path: ctx.path, status: ctx.status, ms: Date.now() - started }, 'token request');
    }
  };
}
