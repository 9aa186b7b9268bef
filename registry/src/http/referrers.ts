/** GET /v2/<name>/referrers/<digest>: an OCI index of the manifests whose subject is <digest>. */
import { parseDigest } from '../oci/grammar.ts';
import { mediaTypes } from '../oci/media-types.ts';
import type { Handler } from './context.ts';
import { firstQueryValue } from './request.ts';

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
