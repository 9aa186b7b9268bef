/** GET, HEAD and DELETE /v2/<name>/blobs/<digest>. */
import type { Context } from 'koa';
import { RegistryError } from '../errors.ts';
import { isRecycling, type RecyclingReadable } from '../storage/driver.ts';
import { parseDigest } from '../oci/grammar.ts';
import { emptyResponse, type Handler } from './context.ts';
import { parseByteRange } from './request.ts';

export const getBlob: Handler = async (ctx, { name, last }, services) => {
  const digest = parseDigest(last);
  const blob = await services.blobs.stat(name, digest);
  ctx.set('Docker-Content-Digest', blob.digest);
  ctx.set('Accept-Ranges', 'bytes');
  ctx.set('ETag', `"${blob.digest}"`);
  // Blobs are already compressed (or deliberately not): never re-encode them.
  ctx.set('Cache-Control', 'max-age=31536000, no-transform');
  const range = parseByteRange(ctx.get('Range'), blob.size);
  if (range === 'unsatisfiable') {
    throw new RegistryError('RANGE_INVALID', 'requested range not satisfiable', { headers: { 'Content-Range': `bytes */${blob.size}` } });
  }
  if (ctx.method === 'HEAD') {
    ctx.status = range ? 206 : 200;
    ctx.type = 'application/octet-stream';
    ctx.length = range ? range.end - range.start + 1 : blob.size;
    if (range) ctx.set('Content-Range', `bytes ${range.start}-${range.end}/${blob.size}`);
    return;
  }
  const stream = await services.blobs.read(digest, range);
  ctx.type = 'application/octet-stream';
  if (range) {
    ctx.status = 206;
    ctx.length = range.end - range.start + 1;
    ctx.set('Content-Range', `bytes ${range.start}-${range.end}/${blob.size}`);
  } else {
    ctx.status = 200;
    ctx.length = blob.size;
  }
  if (isRecycling(stream)) await sendRecycling(ctx, stream);
  else ctx.body = stream;
};

/**
 * Writes the response body from a RecyclingReadable, handing each chunk back once the socket
 * has taken it (the write callback), instead of letting Koa pipe it. Status and headers are
 * already set. Once the first byte is out an error can only cut the connection, as a piped
 * body's would; a client that goes away stops the reads.
 */
async function sendRecycling(ctx: Context, stream: RecyclingReadable): Promise<void> {
  ctx.respond = false;
  const res = ctx.res;
  await new Promise<void>((resolve) => {
    const stop = () => {
      stream.destroy();
      resolve();
    };
    res.once('close', stop);
    stream.once('error', (err) => {
      res.destroy(err);
      stop();
    });
    stream.once('end', () => res.end());
    stream.on('data', (chunk: Buffer) => {
      // Only after a write that completed: a failed one may have left the buffer anywhere.
      if (!res.write(chunk, (err) => err || stream.recycle(chunk))) {
        stream.pause();
        res.once('drain', () => stream.resume());
      }
    });
  });
}

export const deleteBlob: Handler = async (ctx, { name, last }, services) => {
  const digest = parseDigest(last);
  await services.blobs.unlink(name, digest);
  ctx.set('Docker-Content-Digest', digest.value);
  emptyResponse(ctx, 202);
};
