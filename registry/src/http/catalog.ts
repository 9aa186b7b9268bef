/** GET /v2/_catalog (a Docker extension every registry UI and crane use). */
import type { Context } from 'koa';
import type { V2Services } from './context.ts';
import { paginate } from './pagination.ts';

export async function listCatalog(ctx: Context, services: V2Services): Promise<void> {
  const repositories = await paginate(ctx, services, '/v2/_catalog', (limit, after) =>
    services.metadata.listRepositories({ ...(limit !== undefined ? { limit } : {}), ...(after !== undefined ? { after } : {}) }),
  );
  ctx.status = 200;
  ctx.body = { repositories: repositories ?? [] };
}
