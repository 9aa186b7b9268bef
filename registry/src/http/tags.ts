/** GET /v2/<name>/tags/list. */
import { RegistryError } from '../errors.ts';
import type { Handler } from './context.ts';
import { paginate } from './pagination.ts';

export const listTags: Handler = async (ctx, { name }, services) => {
  const tags = await paginate(ctx, services, `/v2/${name}/tags/list`, (limit, after) => services.manifests.tags(name, limit, after));
  if (!tags) throw new RegistryError('NAME_UNKNOWN', undefined, { detail: { name } });
  ctx.status = 200;
  ctx.body = { name, tags };
};
