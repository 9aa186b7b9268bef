/**
 * Blob storage on S3 or MinIO, through the `minio` client: object "a/b" is the key
 * `<prefix>/a/b` in one bucket.
 *
 * Uploads are our own multipart loop over the client's part primitives rather than
 * `putObject(stream)`, because that one (minio 8.0.7) with no size given sizes parts for a
 * 5 TiB object (~560 MiB buffered per part), lists in-progress uploads before every write and
 * resumes a stranger's, and neither catches an error of the source stream nor aborts the
 * multipart upload (the promise hangs, the parts stay billed). Here: objects up to one part are a
 * single PUT; larger ones are parts of PART_SIZE, one uploading while the next is read, and
 * any failure aborts the multipart upload, so nothing becomes visible.
 *
 * Server-side copies are also our own loop (uploadPart with x-amz-copy-source), because the
 * client's composeObject swallows errors after aborting and numbers split parts wrongly.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { Readable } from 'node:stream';
import { Client, CopyDestinationOptions, CopySourceOptions } from 'minio';
import {
  InvalidOffsetError,
  InvalidPathError,
  PathNotFoundError,
  StorageDriverError,
  type BlobStorageDriver,
  type ByteRange,
  type ObjectInfo,
} from './driver.ts';
import { checkPath, checkPrefix, checkRange } from './paths.ts';

export interface S3DriverOptions {
  endPoint: string;
  port?: number;
  useSSL: boolean;
  accessKey: string;
  secretKey: string;
  bucket: string;
  region?: string;
  /** Key prefix inside the bucket (no leading or trailing slash), so one bucket can hold several registries. */
  prefix?: string;
  /** Multipart part size in bytes, 5 MiB..5 GiB; default 16 MiB. Memory per upload is about 2-3 parts. */
  partSize?: number;
}

const MiB = 1024 * 1024;
const DEFAULT_PART_SIZE = 16 * MiB;
/** S3 limits: every multipart part but the last is at least 5 MiB; a part (and a plain copy) is at most 5 GiB. */
const MIN_PART_SIZE = 5 * MiB;
const MAX_PART_SIZE = 5 * 1024 * MiB;
const MAX_PARTS = 10_000;
/** Size of each copied range when a source is larger than one part may be. */
const COPY_SPLIT_SIZE = 1024 * MiB;
const COPY_CONCURRENCY = 4;
/** DeleteObjects accepts at most 1000 keys per request. */
const DELETE_BATCH = 1000;

interface S3ErrorLike {
  code?: string;
  message?: string;
}

/** The one place S3 errors become driver errors. Messages carry S3 codes, never credentials. */
function toDriverError(err: unknown, path: string): Error {
  if (err instanceof StorageDriverError) return err;
  const code = (err as S3ErrorLike)?.code;
  if (code === 'NoSuchKey' || code === 'NotFound') {
    return new PathNotFoundError(`no object at ${path}`, 's3', path, { cause: err });
  }
  if (code === 'InvalidRange') {
    return new InvalidOffsetError(`invalid range for ${path}`, 's3', path, { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new StorageDriverError(`s3${code ? ` ${code}` : ''}: ${message}`, 's3', path, { cause: err });
}

function errorCode(err: unknown): string | undefined {
  return (err as S3ErrorLike)?.code;
}

/** Below this many bytes a stream is kept as its own chunks; past it, parts go to reused buffers. */
const SMALL_OBJECT = 1024 * 1024;

/**
 * Cut a body into parts of exactly `partSize` bytes (the last one shorter; one empty part for an
 * empty body). A stream larger than SMALL_OBJECT is copied into two part buffers used in turn,
 * so an upload holds about two parts whatever its size and allocates nothing per part. The
 * consumer must be done with a yielded part before asking for the part after the next one.
 */
async function* partsOf(body: Readable | Buffer, partSize: number): AsyncGenerator<Buffer> {
  if (Buffer.isBuffer(body)) {
    if (body.length === 0) yield body;
    for (let offset = 0; offset < body.length; offset += partSize) yield body.subarray(offset, offset + partSize);
    return;
  }
  const pool: Buffer[] = [];
  let turn = 0;
  const nextBuffer = (): Buffer => {
    const index = turn++ % 2;
    return (pool[index] ??= Buffer.allocUnsafeSlow(partSize));
  };
  let small: Buffer[] | undefined = [];
  let part: Buffer | undefined;
  let filled = 0;
  let yielded = false;
  for await (const data of body) {
    let chunk = Buffer.isBuffer(data) ? data : Buffer.from(data as Uint8Array);
    if (small) {
      if (filled + chunk.length <= SMALL_OBJECT) {
        small.push(chunk);
        filled += chunk.length;
        continue;
      }
      part = nextBuffer();
      let at = 0;
      for (const held of small) at += held.copy(part, at);
      small = undefined;
    }
    while (chunk.length > 0) {
      part ??= nextBuffer();
      const copied = chunk.copy(part, filled);
      filled += copied;
      chunk = chunk.subarray(copied);
      if (filled === partSize) {
        yield part;
        yielded = true;
        part = undefined;
        filled = 0;
      }
    }
  }
  if (small) yield Buffer.concat(small, filled);
  else if (filled > 0 || !yielded) yield (part ?? nextBuffer()).subarray(0, filled);
}

export class S3Driver implements BlobStorageDriver {
  readonly name = 's3';
  readonly bucket: string;
  private readonly client: Client;
  private readonly agent: HttpAgent;
  /** "" or "<prefix>/". */
  private readonly keyPrefix: string;
  private readonly region: string;
  private readonly partSize: number;

  constructor(options: S3DriverOptions) {
    if (!options.bucket) throw new Error('s3 storage: bucket is required');
    const prefix = (options.prefix ?? '').replace(/^\/+|\/+$/g, '');
    if (prefix !== '') checkPath('s3', prefix);
    this.partSize = options.partSize ?? DEFAULT_PART_SIZE;
    if (this.partSize < MIN_PART_SIZE || this.partSize > MAX_PART_SIZE) {
      throw new Error(`s3 storage: partSize must be between ${MIN_PART_SIZE} and ${MAX_PART_SIZE} bytes`);
    }
    this.bucket = options.bucket;
    this.keyPrefix = prefix === '' ? '' : `${prefix}/`;
    this.region = options.region ?? 'us-east-1';
    // Keep-alive connections, closed in close(); the client's default would be Node's global agent.
    this.agent = options.useSSL ? new HttpsAgent({ keepAlive: true, maxSockets: 64 }) : new HttpAgent({ keepAlive: true, maxSockets: 64 });
    this.client = new Client({
      endPoint: options.endPoint,
      ...(options.port !== undefined ? { port: options.port } : {}),
      useSSL: options.useSSL,
      accessKey: options.accessKey,
      secretKey: options.secretKey,
      region: this.region,
      pathStyle: true,
      transportAgent: this.agent,
    });
  }

  /** Create the bucket when missing (called once at startup; safe when replicas race). */
  async ensureBucket(): Promise<void> {
    try {
      if (await this.client.bucketExists(this.bucket)) return;
      await this.client.makeBucket(this.bucket, this.region);
    } catch (err) {
      const code = errorCode(err);
      if (code === 'BucketAlreadyOwnedByYou' || code === 'BucketAlreadyExists') return;
      throw toDriverError(err, '');
    }
  }

  async put(path: string, body: Readable | Buffer): Promise<number> {
    checkPath(this.name, path);
    try {
      return await this.upload(this.key(path), body);
    } catch (err) {
      throw toDriverError(err, path);
    }
  }

  async read(path: string, range?: ByteRange): Promise<Readable> {
    checkPath(this.name, path);
    // Reject malformed ranges before any request; the size is only known on the error path.
    checkRange(this.name, path, range, Number.MAX_SAFE_INTEGER);
    const key = this.key(path);
    try {
      if (!range || (range.offset === 0 && range.end === undefined)) return await this.client.getObject(this.bucket, key);
      const length = range.end === undefined ? undefined : range.end - range.offset + 1;
      return await this.client.getPartialObject(this.bucket, key, range.offset, length);
    } catch (err) {
      if (errorCode(err) !== 'InvalidRange' || !range) throw toDriverError(err, path);
    }
    // 416: the offset is at or past the end. At the end is an empty read (see the interface).
    const info = await this.stat(path);
    if (!info) throw new PathNotFoundError(`no object at ${path}`, this.name, path);
    checkRange(this.name, path, range, info.size);
    if (range.offset >= info.size) return Readable.from([]);
    throw new InvalidOffsetError(`invalid range ${range.offset}-${range.end ?? ''} for ${path}`, this.name, path);
  }

  async stat(path: string): Promise<ObjectInfo | undefined> {
    checkPath(this.name, path);
    try {
      const info = await this.client.statObject(this.bucket, this.key(path));
      return { path, size: info.size, modifiedAt: info.lastModified };
    } catch (err) {
      if (errorCode(err) === 'NotFound' || errorCode(err) === 'NoSuchKey') return undefined;
      throw toDriverError(err, path);
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    checkPrefix(this.name, prefix);
    const keyPrefix = prefix === '' ? this.keyPrefix : `${this.keyPrefix}${prefix}/`;
    const infos: ObjectInfo[] = [];
    try {
      for await (const item of this.client.listObjectsV2(this.bucket, keyPrefix, true)) {
        if (item.name === undefined) continue;
        infos.push({ path: item.name.slice(this.keyPrefix.length), size: item.size, modifiedAt: item.lastModified });
      }
    } catch (err) {
      throw toDriverError(err, prefix);
    }
    return infos.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  async assemble(dest: string, sources: string[]): Promise<void> {
    checkPath(this.name, dest);
    for (const source of sources) checkPath(this.name, source);
    const infos = await Promise.all(sources.map((source) => this.stat(source)));
    const sizes = infos.map((info, i) => {
      if (!info) throw new PathNotFoundError(`assemble: no object at ${sources[i]}`, this.name, sources[i]!);
      return info.size;
    });
    // Empty sources add nothing, and would break the part-size rule of a server-side copy.
    const parts = sources.map((source, i) => ({ source, size: sizes[i]! })).filter((part) => part.size > 0);
    try {
      if (parts.length === 0) {
        await this.upload(this.key(dest), Buffer.alloc(0));
      } else if (parts.length === 1 && parts[0]!.size <= MAX_PART_SIZE) {
        if (parts[0]!.source === dest) return;
        await this.client.copyObject(
          new CopySourceOptions({ Bucket: this.bucket, Object: this.key(parts[0]!.source) }),
          new CopyDestinationOptions({ Bucket: this.bucket, Object: this.key(dest) }),
        );
      } else if (parts.every((part, i) => i === parts.length - 1 || part.size >= MIN_PART_SIZE) && this.copyPartCount(parts) <= MAX_PARTS) {
        await this.copyParts(this.key(dest), parts);
      } else {
        // Small parts in the middle: stream them through this process, one source after the other.
        await this.upload(this.key(dest), Readable.from(this.concatenation(parts.map((part) => part.source))));
      }
    } catch (err) {
      throw toDriverError(err, dest);
    }
  }

  async delete(path: string): Promise<void> {
    checkPath(this.name, path);
    try {
      await this.client.removeObject(this.bucket, this.key(path));
    } catch (err) {
      if (errorCode(err) === 'NoSuchKey' || errorCode(err) === 'NotFound') return;
      throw toDriverError(err, path);
    }
  }

  async deletePrefix(prefix: string): Promise<void> {
    checkPrefix(this.name, prefix);
    if (prefix === '') throw new InvalidPathError('deletePrefix: refusing to delete the whole store', this.name, prefix);
    const keys = (await this.list(prefix)).map((info) => this.key(info.path));
    try {
      for (let i = 0; i < keys.length; i += DELETE_BATCH) {
        // The client returns the <Error> entries of the DeleteResult: {Code, Message, Key}.
        const failures = (await this.client.removeObjects(this.bucket, keys.slice(i, i + DELETE_BATCH))) as unknown as Array<{ Code?: string; Key?: string } | null | undefined>;
        const failed = failures.filter((f) => f && f.Code !== 'NoSuchKey');
        if (failed.length > 0) {
          const first = failed[0]!;
          throw new StorageDriverError(`s3: could not delete ${failed.length} objects (${first.Code} on ${first.Key})`, this.name, prefix);
        }
      }
    } catch (err) {
      throw toDriverError(err, prefix);
    }
  }

  /** A presigned GET URL for `path`, for redirecting blob downloads to the object store. */
  async redirectURL(path: string, expiresSeconds: number): Promise<string> {
    checkPath(this.name, path);
    try {
      return await this.client.presignedGetObject(this.bucket, this.key(path), expiresSeconds);
    } catch (err) {
      throw toDriverError(err, path);
    }
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }

  private key(path: string): string {
    return this.keyPrefix + path;
  }

  /** Write `body` to `key`: one PUT when it fits in a part, else a multipart upload aborted on any failure. */
  private async upload(key: string, body: Readable | Buffer): Promise<number> {
    const parts = partsOf(body, this.partSize);
    const first = await parts.next();
    const firstPart = first.done ? Buffer.alloc(0) : first.value;
    const second = await parts.next();
    if (second.done) {
      await this.client.putObject(this.bucket, key, firstPart);
      return firstPart.length;
    }
    const uploadId = await this.client.initiateNewMultipartUpload(this.bucket, key, {});
    const etags: { part: number; etag: string }[] = [];
    let size = 0;
    let partCount = 0;
    const send = (payload: Buffer): Promise<void> => {
      const part = ++partCount;
      if (part > MAX_PARTS) throw new Error(`object larger than ${MAX_PARTS} parts of ${this.partSize} bytes`);
      size += payload.length;
      const sent = this.client
        .uploadPart({ bucketName: this.bucket, objectName: key, uploadID: uploadId, partNumber: part, headers: {} }, payload)
        .then((result) => {
          etags[part - 1] = { part, etag: result.etag };
        });
      sent.catch(() => undefined); // awaited below; this only stops an early exit reporting it as unhandled
      return sent;
    };
    try {
      // One part uploading while the next one is read: about two parts in memory at a time.
      await send(firstPart);
      let uploading = send(second.value);
      for await (const payload of parts) {
        await uploading;
        uploading = send(payload);
      }
      await uploading;
      await this.client.completeMultipartUpload(this.bucket, key, uploadId, etags);
      return size;
    } catch (err) {
      await parts.return(undefined);
      await this.client.abortMultipartUpload(this.bucket, key, uploadId).catch(() => undefined);
      throw err;
    }
  }

  private copyPartCount(parts: { size: number }[]): number {
    return parts.reduce((n, part) => n + (part.size > MAX_PART_SIZE ? Math.ceil(part.size / COPY_SPLIT_SIZE) : 1), 0);
  }

  /** Server-side concatenation: a multipart upload whose parts are copies of the sources. */
  private async copyParts(destKey: string, parts: { source: string; size: number }[]): Promise<void> {
    const copies: { part: number; source: string; range?: string }[] = [];
    for (const { source, size } of parts) {
      if (size <= MAX_PART_SIZE) {
        copies.push({ part: copies.length + 1, source });
        continue;
      }
      // Even pieces, so none (not even the last of this source) falls under the 5 MiB minimum.
      const piece = Math.ceil(size / Math.ceil(size / COPY_SPLIT_SIZE));
      for (let start = 0; start < size; start += piece) {
        const end = Math.min(start + piece, size) - 1;
        copies.push({ part: copies.length + 1, source, range: `bytes=${start}-${end}` });
      }
    }
    const uploadId = await this.client.initiateNewMultipartUpload(this.bucket, destKey, {});
    try {
      const etags: { part: number; etag: string }[] = [];
      for (let i = 0; i < copies.length; i += COPY_CONCURRENCY) {
        const batch = copies.slice(i, i + COPY_CONCURRENCY);
        const results = await Promise.all(
          batch.map(({ part, source, range }) =>
            this.client.uploadPart(
              {
                bucketName: this.bucket,
                objectName: destKey,
                uploadID: uploadId,
                partNumber: part,
                headers: {
                  'x-amz-copy-source': encodeURI(`${this.bucket}/${this.key(source)}`),
                  ...(range ? { 'x-amz-copy-source-range': range } : {}),
                },
              },
              '',
            ),
          ),
        );
        results.forEach((result, j) => etags.push({ part: batch[j]!.part, etag: result.etag }));
      }
      await this.client.completeMultipartUpload(this.bucket, destKey, uploadId, etags);
    } catch (err) {
      await this.client.abortMultipartUpload(this.bucket, destKey, uploadId).catch(() => undefined);
      throw err;
    }
  }

  private async *concatenation(sources: string[]): AsyncGenerator<Buffer> {
    for (const source of sources) {
      const stream = await this.client.getObject(this.bucket, this.key(source));
      for await (const chunk of stream) yield chunk as Buffer;
    }
  }
}
