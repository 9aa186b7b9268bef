/**
 * Blob uploads: POST (session, monolithic ?digest=, mount), PATCH, PUT, GET status, DELETE.
 * Status codes are exactly what clients insist on: POST 202 (or 201 when the blob is already
 * complete), PATCH 202, PUT 201, GET 204, DELETE 204.
 */
import type { Context } from 'koa';
import { RegistryError } from '../errors.ts';
import { isValidRepositoryName, parseDigest, type DigestAlgorithm } from '../oci/grammar.ts';
import { BlobUploadSessions, type UploadStatus } from '../domain/uploads.ts';
import { pullAccess } from './access.ts';
import { emptyResponse, location, type Handler, type V2Services } from './context.ts';
import { contentLength, discardBody, firstQueryValue, hasBody, parseContentRange } from './request.ts';

function blobCreated(ctx: Context, services: V2Services, name: string, digest: string): void {
  ctx.set('Location', location(services, `/v2/${name}/blobs/${digest}`));
  ctx.set('Docker-Content-Digest', digest);
  emptyResponse(ctx, 201);
}

function sessionResponse(ctx: Context, services: V2Services, status: number, upload: UploadStatus): void {
  ctx.set('Location', location(services, `/v2/${upload.repository}/blobs/uploads/${upload.id}`));
  ctx.set('Range', BlobUploadSessions.rangeHeader(upload.offset));
  ctx.set('Docker-Upload-UUID', upload.id);
  emptyResponse(ctx, status);
}

export const startUpload: Handler = async (ctx, { name }, services) => {
  const mount = firstQueryValue(ctx.query.mount);
  const digestParam = firstQueryValue(ctx.query.digest);
  if (mount !== undefined) {
    const digest = parseDigest(mount);
    const from = firstQueryValue(ctx.query.from);
    let mounted = false;
    if (from === undefined || from === '') {
      if (services.mountWithoutFrom) mounted = (await services.blobs.mount(name, digest)) !== undefined;
    } else if (isValidRepositoryName(from)) {
      // Refused access to the source is not an error: the client gets an upload session instead.
      const decision = await services.access.authorize({ method: ctx.method, headers: ctx.headers, clientAddress: ctx.ip }, pullAccess(from));
      if (decision.ok) mounted = (await services.blobs.mount(name, digest, from)) !== undefined;
    }
    if (mounted) {
      discardBody(ctx.req);
      blobCreated(ctx, services, name, digest.value);
      return;
    }
  }
  if (digestParam !== undefined) {
    const digest = parseDigest(digestParam);
    const length = contentLength(ctx.req);
    const blob = await services.uploads.uploadMonolithic(name, digest, { stream: ctx.req, ...(length !== undefined ? { length } : {}) });
    blobCreated(ctx, services, name, blob.digest);
    return;
  }
  // An empty body (crane sends one with Content-Type application/json) opens a session.
  discardBody(ctx.req);
  const algorithmParam = firstQueryValue(ctx.query['digest-algorithm']);
  let algorithm: DigestAlgorithm | undefined;
  if (algorithmParam !== undefined) {
    if (algorithmParam !== 'sha256' && algorithmParam !== 'sha512') {
      throw new RegistryError('UNSUPPORTED', 'unsupported digest algorithm', { status: 400, detail: { algorithm: algorithmParam.slice(0, 32) } });
    }
    algorithm = algorithmParam;
  }
  const upload = await services.uploads.start(name, algorithm);
  sessionResponse(ctx, services, 202, upload);
};

export const uploadStatus: Handler = async (ctx, { name, last }, services) => {
  const upload = await services.uploads.status(name, last);
  sessionResponse(ctx, services, 204, upload);
};

export const patchUpload: Handler = async (ctx, { name, last }, services) => {
  const length = contentLength(ctx.req);
  const range = parseContentRange(ctx.get('Content-Range') || undefined);
  const upload = await services.uploads.append(name, last, {
    stream: ctx.req,
    ...(length !== undefined ? { length } : {}),
    ...(range ? { range } : {}),
  });
  sessionResponse(ctx, services, 202, upload);
};

export const finishUpload: Handler = async (ctx, { name, last }, services) => {
  const digestParam = firstQueryValue(ctx.query.digest);
  if (digestParam === undefined) throw new RegistryError('DIGEST_INVALID', 'digest parameter missing');
  const digest = parseDigest(digestParam);
  let body;
  if (hasBody(ctx.req)) {
    const length = contentLength(ctx.req);
    const range = parseContentRange(ctx.get('Content-Range') || undefined);
    body = { stream: ctx.req, ...(length !== undefined ? { length } : {}), ...(range ? { range } : {}) };
  }
  const blob = await services.uploads.finish(name, last, digest, body);
  blobCreated(ctx, services, name, blob.digest);
};

export const cancelUpload: Handler = async (ctx, { name, last }, services) => {
  await services.uploads.cancel(name, last);
  ctx.status = 204;
};
