/**
 * The blob storage driver: the narrow seam between registry logic and where bytes live.
 *
 * Drivers know nothing about digests, repositories or uploads; they store opaque objects
 * under slash-separated paths. Registry logic (content addressing, upload sessions,
 * digest verification) is written once above this interface, in domain/.
 *
 * Storage layout used by the registry (documented here, where it is defined):
 *
 *   blobs/<algorithm>/<first two hex chars>/<hex>/data   verified, content-addressed blobs,
 *                                                      shared by every repository (dedupe)
 *   _uploads/<uuid>/data                               the bytes received so far, on drivers
 *                                                      that append (AppendingDriver)
 *   _uploads/<uuid>/parts/<16-digit zero-padded offset> the chunks received so far, in order,
 *                                                      on drivers that cannot append (S3)
 *
 * (An upload session itself is a row in the metadata store; _uploads/<uuid>/ holds its bytes
 * only, and exists once it has some: domain/uploads.ts.)
 *
 * A blob becomes visible under blobs/ only after its digest has been verified: through
 * `assemble` of verified upload parts, or through a `put` whose body stream fails at its end
 * unless the digest matches (a whole blob in one request, domain/uploads.ts), which `put`
 * never makes visible. So a partial or unverified blob is never visible.
 *
 * Every implementation passes the shared suite in registry/test/storage/driver-suite.ts.
 */
import type { Readable } from 'node:stream';

export interface ObjectInfo {
  /** Path relative to the driver root, as passed to the driver. */
  path: string;
  size: number;
  modifiedAt: Date;
}

export interface ByteRange {
  /** First byte to return. */
  offset: number;
  /** Last byte to return, inclusive; undefined means to the end. */
  end?: number;
}

export interface BlobStorageDriver {
  /** Short name for logs and health output: "filesystem", "s3". */
  readonly name: string;

  /**
   * Store a whole object. The object becomes visible only once completely written
   * (filesystem: temporary file then rename; S3: a single PUT/multipart completion).
   * Overwrites an existing object. Resolves to the number of bytes written.
   * If `body` errors, nothing is left visible at `path` and the promise rejects.
   */
  put(path: string, body: Readable | Buffer): Promise<number>;

  /**
   * Stream an object or a byte range of it. Rejects with PathNotFoundError, InvalidOffsetError.
   * Ranges: 0 <= offset <= size, else InvalidOffsetError; offset == size gives an empty stream
   * (so a zero-length object reads as empty); `end` past the last byte is clamped to it (as
   * HTTP does); `end < offset` is InvalidOffsetError.
   */
  read(path: string, range?: ByteRange): Promise<Readable>;

  /** Size and modification time, or undefined when the object does not exist. */
  stat(path: string): Promise<ObjectInfo | undefined>;

  /**
   * Every object below `prefix` (recursively), sorted by path. Empty when none. `prefix` names a
   * directory: "a/b" lists "a/b/..." (never "a/bc"); "" lists the whole store.
   */
  list(prefix: string): Promise<ObjectInfo[]>;

  /**
   * Make `dest` the concatenation of `sources` (in the given order), atomically: `dest`
   * appears complete or not at all. Sources may be consumed (moved) by the operation;
   * callers delete what remains of them afterwards. If `dest` already exists it is replaced.
   * No sources makes an empty object. A missing source rejects with PathNotFoundError before
   * anything is moved or written.
   */
  assemble(dest: string, sources: string[]): Promise<void>;

  /** Delete one object. Deleting a missing object is not an error. */
  delete(path: string): Promise<void>;

  /** Delete every object below `prefix` (a directory, as for `list`; "" is refused). Not an error when there are none. */
  deletePrefix(prefix: string): Promise<void>;

  /** Release connections, timers. */
  close(): Promise<void>;

  /** Drop buffers kept for reuse (the registry is idle; see runtime/memory.ts). Optional. */
  releaseIdleMemory?(): void;
}

/**
 * A driver that can extend an object in place (the filesystem; S3 objects cannot grow). Upload
 * sessions on such a driver append every chunk to one object and close the upload with a
 * single-source `assemble` (a rename), instead of storing each chunk as a part and
 * concatenating the parts at the end: every byte is written once instead of twice.
 *
 * Unlike `put`, an appended object is visible while it grows: it is for upload state only,
 * never for blobs/. After a crash it holds a prefix of what was sent (each append writes in
 * order), which a client resumes from.
 */
export interface AppendingDriver extends BlobStorageDriver {
  /**
   * Append `body` to the object at `path`, which must be exactly `offset` bytes long (a missing
   * object counts as 0 bytes and is created); else InvalidOffsetError, with nothing written.
   * Resolves to the object's new size once the appended bytes are durable. If `body` errors,
   * the object is cut back to `offset` bytes and the promise rejects.
   */
  append(path: string, offset: number, body: Readable): Promise<number>;

  /** Cut the object at `path` back to `size` bytes; InvalidOffsetError if it has fewer, PathNotFoundError if missing. */
  truncate(path: string, size: number): Promise<void>;
}

export function canAppend(driver: BlobStorageDriver): driver is AppendingDriver {
  const candidate = driver as Partial<AppendingDriver>;
  return typeof candidate.append === 'function' && typeof candidate.truncate === 'function';
}

/**
 * A stream from `read` whose chunks the consumer may hand back with `recycle` once it is done
 * with them (a response writer: when the socket has taken the bytes), so the next reads reuse
 * their memory. Optional: a consumer that never recycles gets fresh chunks, as from any stream.
 * Why: a fresh 1 MiB buffer per read made V8 run full mark-compacts back to back under
 * concurrent pulls (more than half of the registry's CPU in a pull loop went to marking).
 */
export interface RecyclingReadable extends Readable {
  recycle(chunk: Buffer): void;
}

export function isRecycling(stream: Readable): stream is RecyclingReadable {
  return typeof (stream as Partial<RecyclingReadable>).recycle === 'function';
}

export class StorageDriverError extends Error {
  constructor(message: string, readonly driver: string, readonly path: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}
export class PathNotFoundError extends StorageDriverError {}
export class InvalidPathError extends StorageDriverError {}
export class InvalidOffsetError extends StorageDriverError {}
