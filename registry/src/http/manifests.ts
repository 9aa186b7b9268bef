/**
 * GET, HEAD, PUT and DELETE /v2/<name>/manifests/<reference>.
 * GET returns the stored bytes as pushed, whatever the Accept header says: Berth stores no
 * schema 1 to convert to, and every current client accepts what it pushed (as Distribution
 * does for OCI content).
 */
import { parseLookupReference, parseReference } from '../oci/grammar.ts';
import { emptyResponse, location, type Handler } from './context.ts';
import { allQueryValues, readLimitedBody } from './request.ts';

export const getManifest: Handler = async (ctx, { name, last }, services) => {
  const manifest = await services.manifests.get(name, parseLookupReference(last));
  ctx.status = 200;
  if (ctx.method === 'HEAD') ctx.length = manifest.content.length;
  else ctx.body = manifest.content;
  ctx.set('Content-Type', manifest.mediaType);
  ctx.set('Docker-Content-Digest', manifest.digest);
  ctx.set('ETag', `"${manifest.digest}"`);
};

export const putManifest: Handler = async (ctx, { name, last }, services) => {
  const reference = parseReference(last);
  const content = await readLimitedBody(ctx.req, services.manifests.maxManifestBytes);
  const result = await services.manifests.put(name, reference, content, ctx.get('Content-Type') || undefined, allQueryValues(ctx.query.tag));
  ctx.set('Location', location(services, `/v2/${name}/manifests/${result.digest}`));
  ctx.set('Docker-Content-Digest', result.digest);
  if (result.subject) ctx.set('OCI-Subject', result.subject);
  if (reference.kind === 'digest' && result.tags.length > 0) ctx.set('OCI-Tag', result.tags);
  emptyResponse(ctx, 201);
};

export const deleteManifest: Handler = async (ctx, { name, last }, services) => {
  await services.manifests.delete(name, parseLookupReference(last));
  emptyResponse(ctx, 202);
};
