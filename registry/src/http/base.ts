/** GET /v2/: the API version check. */
import type { Context } from 'koa';

export async function getBase(ctx: Context): Promise<void> {
  ctx.status = 200;
  ctx.body = {};
}
