/**
 * The one place errors become HTTP responses on /v2: a RegistryError gets its registered
 * status and `{"errors":[{code,message,detail}]}`; anything else is logged with the request
 * id and answered 500 UNKNOWN without internals.
 */
import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import { isRegistryError, registryErrorCodes } from '../errors.ts';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function registryErrorResponse(logger: Logger): Middleware {
  return async (ctx, next) => {
    const incoming = ctx.get('X-Request-Id');
    const requestId = REQUEST_ID.test(incoming) ? incoming : randomUUID();
    ctx.state.requestId = requestId;
    ctx.set('X-Request-Id', requestId);
    ctx.set('Docker-Distribution-API-Version', 'registry/2.0');
    try {
      await next();
    } catch (err) {
      if (isRegistryError(err)) {
        ctx.status = err.status;
        ctx.set(err.headers);
        const entry: Record<string, unknown> = { code: err.code, message: err.message };
        if (err.detail !== undefined) entry.detail = err.detail;
        ctx.body = { errors: [entry] };
        return;
      }
      // A client that went away mid-body is not a server fault: nobody is left to answer.
      const code = (err as { code?: string } | undefined)?.code;
      if (ctx.req.destroyed || code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE') {
        logger.debug({ requestId, method: ctx.method, path: ctx.path, code }, 'client went away');
      } else {
        logger.error({ err, requestId, method: ctx.method, path: ctx.path }, 'request failed');
      }
      ctx.status = 500;
      ctx.body = { errors: [{ code: 'UNKNOWN', message: registryErrorCodes.UNKNOWN.message, detail: { requestId } }] };
    }
  };
}
