/** Tags list, catalog and referrers: the read-only listings of /v2. */
import type { Context } from 'koa';
import { RegistryError } from '../errors.ts';
import { parseDigest } from '../oci/grammar.ts';
import { mediaTypes } from '../oci/media-types.ts';
import { location, type Handler, type V2Services } from './context.ts';
import { firstQueryValue, parsePageSize } from './request.ts';

/** Fetches one more than asked to know whether a next page exists; sets the Link header. */
async function paginate(
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

export const listTags: Handler = async (ctx, { name }, services) => {
  const tags = await paginate(ctx, services, `/v2/${name}/tags/list`, (limit, after) => services.manifests.tags(name, limit, after));
  if (!tags) throw new RegistryError('NAME_UNKNOWN', undefined, { detail: { name } });
  ctx.status = 200;
  ctx.body = { name, tags };
};

export async function listCatalog(ctx: Context, services: V2Services): Promise<void> {
  const repositories = await paginate(ctx, services, '/v2/_catalog', (limit, after) =>
    services.metadata.listRepositories({ ...(limit !== undefined ? { limit } : {}), ...(after !== undefined ? { after } : {}) }),
  );
  ctx.status = 200;
  ctx.body = { repositories: repositories ?? [] };
}

export const listReferrers: Handler = async (ctx, { name, last }, services) => {
  const subject = parseDigest(last);
  const artifactType = firstQueryValue(ctx.query.artifactType) || undefined;
  const manifests = await services.manifests.referrers(name, subject, artifactType);
  if (artifactType !== undefined) ctx.set('OCI-Filters-Applied', 'artifactType');
  ctx.status = 200;
  ctx.body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: mediaTypes.ociIndex, manifests }));
  // Exactly this type, no charset: oras and the conformance suite compare it verbatim.
  ctx.set('Content-Type', mediaTypes.ociIndex);
};
