/** `n`/`last` pagination with the `Link: <...>; rel="next"` header, shared by tags and catalog. */
import type { Context } from 'koa';
import { location, type V2Services } from './context.ts';
import { firstQueryValue, parsePageSize } from './request.ts';

/** Fetches one more than asked to know whether a next page exists; sets the Link header. */
export async function paginate(
  ctx: Context,
  services: V2Services,
  path: string,
  list: (limit: number | undefined, after: string | undefined) => Promise<string[] | undefined>,
): Promise<string[] | undefined> {
  const n = parsePageSize(ctx.query.n);
  const last = firstQueryValue(ctx.query.last) || undefined;
  if (n === 0) return (await list(1, last)) === undefined ? undefined : [];
  const entries = await list(n === undefined ? undefined : n + 1, last);
  if (entries && n !== undefined && entries.length > n) {
    entries.length = n;
    const next = `${path}?n=${n}&last=${encodeURIComponent(entries[n - 1]!)}`;
    ctx.set('Link', `<${location(services, next)}>; rel="next"`);
  }
  return entries;
}
