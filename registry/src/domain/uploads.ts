/**
 * Blob upload sessions that survive a restart and can be continued on any replica. A session
 * exists while its row in the metadata store does (upload_sessions, migration 0003: one
 * INSERT opens it); the bytes received so far are in blob storage under _uploads/<uuid>/ (see
 * the layout in storage/driver.ts):
 *
 *   - on a driver that appends (the filesystem, storage/driver.ts AppendingDriver), every
 *     PATCH chunk is appended to one object, `data`, and the current offset is its size; a
 *     chunk that fails is cut off again. Elsewhere (S3) each chunk is one `put` of a part named
 *     by its offset (a part appears whole or not at all) and the offset is the sum of the part
 *     sizes listed from storage. Appending writes every byte once: closing the upload moves
 *     the one object into place, where parts must be concatenated into a new object;
 *   - the running digest is a Node crypto hash kept by this process between the requests of a
 *     session (clients send a session's chunks to one server), on the hashing worker thread
 *     when it runs (oci/hash-worker.ts RunningHash: the worker keeps the hash by session, the
 *     bytes cross in blocks lent per request), and fed as each chunk streams in; after each
 *     chunk the digest so far goes to the shared cache, so another replica can
 *     finish the upload without re-reading it. A part written where the running hash is not
 *     at hand (another replica wrote the previous one, or a restart) is stored unhashed, and
 *     finishing then hashes the stored parts once, streaming them back.
 *     Measured (bench/hashers.ts): Node's crypto hashes about 5x faster than hash-wasm, whose
 *     state could be saved in the cache, so re-reading a moved session once at the end costs
 *     less than hashing every chunk in WebAssembly;
 *   - a lock in the cache (setIfAbsent) keeps two requests from writing one session at once;
 *   - the session as this process last left it (info, parts, offset) is kept in process, and
 *     the next request checks it with a row lookup (where replicas share the database) and a
 *     stat instead of listing storage: the row is still there (not finished or cancelled
 *     elsewhere) and the data is still at the known offset (`data` has that size, or no part
 *     exists at that offset: every append, on any replica, writes exactly there). Any error
 *     means reading storage again.
 *
 * Why a row and not a file in storage (as Distribution keeps `startedat`): opening a session
 * was a file written, fsynced and renamed (a PUT on S3), ending it a directory moved away (a
 * LIST and DELETE on S3), on every push of every layer; under push load the POST alone took
 * 6-14 ms of threadpool round trips and a journal commit. A session that never stored a byte
 * (the POST then whole-blob PUT of most clients) now touches storage only for its blob.
 *
 * Finishing verifies the digest, then BlobStore.commit moves the parts into place atomically.
 * A blob sent whole in one request (POST ?digest=, or the closing PUT of an empty session)
 * skips parts altogether: it streams straight to its final key through a VerifyingStream,
 * which fails the write at its end unless the digest matches, so it never becomes visible
 * unverified (saves moving a part and ~6 sequential storage round trips). The VerifyingStream
 * hashes on the worker thread of oci/hash-worker.ts too, so the HTTP thread does not.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { Transform, pipeline, type Readable } from 'node:stream';
import { canAppend, type AppendingDriver, type BlobStorageDriver, type ObjectInfo } from '../storage/driver.ts';
import type { CacheStore } from '../cache/cache.ts';
import { RegistryError } from '../errors.ts';
import type { Digest, DigestAlgorithm } from '../oci/grammar.ts';
import { newHash } from '../oci/digest.ts';
import { runningHash, streamHasher, type ChunkHasher, type RunningHash, type StreamHasher } from '../oci/hash-worker.ts';
import type { MetadataStore } from '../metadata/store.ts';
import type { BlobInfo, BlobStore } from './blob-store.ts';
import { uploadDataPath, uploadPartPath, uploadPartsPrefix, uploadPrefix } from './paths.ts';

export interface UploadStatus {
  id: string;
  repository: string;
  /** Bytes received so far. */
  offset: number;
}

/** Content-Range of a chunk: first and last byte, inclusive. */
export interface ChunkRange {
  start: number;
  end: number;
}

export interface UploadBody {
  stream: Readable;
  /** Content-Length when the client sent one. */
  length?: number;
  range?: ChunkRange;
}

interface SessionInfo {
  repository: string;
  algorithm?: DigestAlgorithm;
}

interface Session {
  id: string;
  info: SessionInfo;
  parts: ObjectInfo[];
  offset: number;
  /** Whether anything may be under the session's prefix in storage (a chunk was written, or storage was listed and had something). */
  stored: boolean;
}

/** What sessions need of the metadata store: their rows. */
export type UploadSessionRecords = Pick<MetadataStore, 'shared' | 'createUploadSession' | 'getUploadSession' | 'deleteUploadSession' | 'listUploadSessionsStartedBefore'>;

export interface BlobUploadSessionsDeps {
  storage: BlobStorageDriver;
  cache: CacheStore;
  blobs: BlobStore;
  /** Where a session's row is kept (the metadata store). */
  records: UploadSessionRecords;
  /** Lifetime of hash states and locks in the cache. */
  ttlSeconds: number;
}

/** The ids this registry hands out (randomUUID); anything else names no session (and is never sent to the database's uuid column). */
const UPLOAD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const LOCK_TTL_SECONDS = 15;
const LOCK_POLL_MS = 50;
/** Rows purgeAbandoned reads at a time. */
const PURGE_BATCH = 1000;

function digestKey(id: string, algorithm: DigestAlgorithm, offset: number): string {
  return `upload:${id}:digest:${algorithm}:${offset}`;
}
function lockKey(id: string): string {
  return `upload:${id}:lock`;
}
/** Sessions as this process last left them, to be checked against storage before use. Bounded like RunningHashes. */
class KnownSessions {
  private readonly entries = new Map<string, Omit<Session, 'id'>>();

  constructor(private readonly maxEntries = 4096) {}

  get(id: string): Session | undefined {
    const entry = this.entries.get(id);
    return entry ? { id, ...entry, parts: [...entry.parts] } : undefined;
  }

  set(session: Session): void {
    this.entries.delete(session.id);
    this.entries.set(session.id, { info: session.info, parts: [...session.parts], offset: session.offset, stored: session.stored });
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }

  delete(id: string): void {
    this.entries.delete(id);
  }
}

/**
 * Running hashes of the sessions this process is writing, by upload id, each valid at one
 * offset, with the digest so far. Bounded: the oldest entries go first (a dropped hash only
 * costs a re-read). A hash taken out and not put back must be disposed of by the taker.
 */
class RunningHashes {
  private readonly entries = new Map<string, { offset: number; hash: RunningHash; hex: string }>();

  constructor(private readonly maxEntries = 4096) {}

  /** Removes and returns the hash if it is at `offset` for `algorithm` (else drops it). */
  take(id: string, algorithm: DigestAlgorithm, offset: number): RunningHash | undefined {
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    this.entries.delete(id);
    if (entry.hash.algorithm === algorithm && entry.offset === offset) return entry.hash;
    entry.hash.dispose();
    return undefined;
  }

  /** The hex digest at `offset`, leaving the hash in place. */
  peek(id: string, algorithm: DigestAlgorithm, offset: number): string | undefined {
    const entry = this.entries.get(id);
    return entry && entry.hash.algorithm === algorithm && entry.offset === offset ? entry.hex : undefined;
  }

  put(id: string, offset: number, hash: RunningHash, hex: string): void {
    this.delete(id);
    this.entries.set(id, { offset, hash, hex });
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.delete(oldest);
    }
  }

  delete(id: string): void {
    this.entries.get(id)?.hash.dispose();
    this.entries.delete(id);
  }
}

/**
 * One chunk through a hashing pass-through: it goes on at once, and the next one is taken
 * only once the hasher has room for more (the hash worker's blocks may all be in use).
 */
function passOnAndHash(
  stream: Transform,
  hasher: { update(chunk: Buffer): Promise<void> | undefined },
  chunk: Buffer,
  callback: (error?: Error | null) => void,
): void {
  stream.push(chunk);
  const waiting = hasher.update(chunk);
  if (waiting) waiting.then(() => callback(), callback);
  else callback();
}

/** A pass-through that feeds every chunk to `hasher`. */
function tap(source: Readable, hasher: ChunkHasher): Readable {
  const transform = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      passOnAndHash(this, hasher, chunk, callback);
    },
  });
  // Errors of the source (client went away) reach the storage driver through the transform.
  pipeline(source, transform, () => {});
  return transform;
}

/**
 * A pass-through that hashes and counts what flows through and, at the end, fails with a
 * RegistryError unless the content is `digest` of `length` bytes (when given). Streamed into
 * the storage driver, a failure at the end keeps the object from ever becoming visible.
 */
class VerifyingStream extends Transform {
  failure: RegistryError | undefined;
  private readonly hasher: StreamHasher;
  private size = 0;

  constructor(
    private readonly digest: Digest,
    private readonly length: number | undefined,
    private readonly wrongLength: (received: number) => RegistryError,
  ) {
    super();
    this.hasher = streamHasher(digest.algorithm);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null, data?: Buffer) => void): void {
    this.size += chunk.length;
    passOnAndHash(this, this.hasher, chunk, callback);
  }

  override _flush(callback: (error?: Error | null) => void): void {
    if (this.length !== undefined && this.size !== this.length) {
      this.failure = this.wrongLength(this.size);
      this.hasher.abandon();
      callback(this.failure);
      return;
    }
    this.hasher.digest().then((hex) => {
      if (hex !== this.digest.encoded) {
        this.failure = new RegistryError('DIGEST_INVALID', undefined, { detail: { expected: this.digest.value } });
      }
      callback(this.failure ?? null);
    }, callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.hasher.abandon();
    callback(error);
  }
}

/** `source` through a VerifyingStream; errors of the source (client went away) pass through. */
function verifying(source: Readable, verifier: VerifyingStream): Readable {
  pipeline(source, verifier, () => {});
  return verifier;
}

function rangeHeader(offset: number): string {
  // Distribution's convention: an empty session reports 0-0.
  return `0-${offset > 0 ? offset - 1 : 0}`;
}

export class BlobUploadSessions {
  private readonly storage: BlobStorageDriver;
  /** The storage driver when it can append: chunks then go to one `data` object instead of parts. */
  private readonly appending: AppendingDriver | undefined;
  private readonly cache: CacheStore;
  private readonly blobs: BlobStore;
  private readonly ttlSeconds: number;
  private readonly records: UploadSessionRecords;
  private readonly running = new RunningHashes();
  private readonly known = new KnownSessions();

  constructor(deps: BlobUploadSessionsDeps) {
    this.storage = deps.storage;
    this.appending = canAppend(deps.storage) ? deps.storage : undefined;
    this.cache = deps.cache;
    this.blobs = deps.blobs;
    this.ttlSeconds = deps.ttlSeconds;
    this.records = deps.records;
  }

  /** The `Range` header value for a session at `offset`. */
  static rangeHeader = rangeHeader;

  async start(repository: string, algorithm?: DigestAlgorithm): Promise<UploadStatus> {
    const id = randomUUID();
    await this.records.createUploadSession({ id, repository, ...(algorithm ? { algorithm } : {}) });
    const info: SessionInfo = { repository, ...(algorithm ? { algorithm } : {}) };
    this.known.set({ id, info, parts: [], offset: 0, stored: false });
    return { id, repository, offset: 0 };
  }

  async status(repository: string, id: string): Promise<UploadStatus> {
    const session = await this.current(repository, id);
    return { id, repository, offset: session.offset };
  }

  /** PATCH: append one chunk at the current offset. */
  async append(repository: string, id: string, body: UploadBody): Promise<UploadStatus> {
    return this.locked(repository, id, async (session) => {
      await this.writeChunk(session, body);
      this.known.set(session);
      return { id, repository, offset: session.offset };
    });
  }

  /** PUT ?digest=: append the final chunk if any, verify and move the blob into place. */
  async finish(repository: string, id: string, digest: Digest, body?: UploadBody): Promise<BlobInfo> {
    return this.locked(repository, id, async (session) => {
      if (body && session.offset === 0 && wholeBlob(body)) {
        // The whole blob in this one request: verified on its way straight into place.
        const verifier = new VerifyingStream(digest, body.range ? body.range.end + 1 : body.length, () =>
          new RegistryError('RANGE_INVALID', 'chunk length does not match Content-Range', { headers: { Range: rangeHeader(0) } }),
        );
        let blob: BlobInfo;
        try {
          blob = await this.blobs.putVerified(repository, digest, verifying(body.stream, verifier));
        } catch (err) {
          throw verifier.failure ?? err;
        }
        await this.end(session.id, session.stored);
        return blob;
      }
      const written = body ? await this.writeChunk(session, body) : undefined;
      let actual = written?.algorithm === digest.algorithm ? written.hex : undefined;
      actual ??= await this.currentDigest(session, digest.algorithm);
      if (actual !== digest.encoded) {
        // Leave the session as it was before this request; the digest recorded for the
        // refused chunk must go first, or a different chunk of the same length would inherit it.
        if (written) {
          this.running.delete(id);
          await this.cache.delete(digestKey(id, written.algorithm, session.offset));
          await written.undo();
        }
        throw new RegistryError('DIGEST_INVALID', undefined, { detail: { expected: digest.value } });
      }
      const blob = await this.blobs.commit(
        repository,
        digest,
        session.parts.map((p) => p.path),
        session.offset,
      );
      await this.end(session.id, session.stored);
      await this.cache.delete(digestKey(id, digest.algorithm, session.offset));
      return blob;
    });
  }

  async cancel(repository: string, id: string): Promise<void> {
    const session = await this.current(repository, id);
    await this.end(id, session.stored);
  }

  /** Session `id` is over: its row goes (no replica finds it from then on), then what it `stored`. */
  private async end(id: string, stored: boolean): Promise<void> {
    await this.records.deleteUploadSession(id);
    this.running.delete(id);
    this.known.delete(id);
    if (stored) await this.storage.deletePrefix(uploadPrefix(id));
  }

  /**
   * Delete sessions untouched for `maxAgeSeconds` (abandoned by their clients) that no request
   * is writing, and what storage holds under _uploads/ for no session (left by a crash between
   * a session's end and the removal of its bytes) as long untouched. For a periodic job;
   * returns how many sessions were removed.
   */
  async purgeAbandoned(maxAgeSeconds: number, now: number = Date.now()): Promise<number> {
    const cutoff = now - maxAgeSeconds * 1000;
    const lastTouched = new Map<string, number>();
    for (const object of await this.storage.list('_uploads')) {
      const id = object.path.split('/')[1];
      if (id === undefined) continue;
      lastTouched.set(id, Math.max(lastTouched.get(id) ?? 0, object.modifiedAt.getTime()));
    }
    let removed = 0;
    for (let after: string | undefined; ; ) {
      const batch = await this.records.listUploadSessionsStartedBefore(new Date(cutoff), PURGE_BATCH, after);
      for (const record of batch) {
        const touched = Math.max(record.startedAt.getTime(), lastTouched.get(record.id) ?? 0);
        lastTouched.delete(record.id);
        if (touched >= cutoff || (await this.cache.get(lockKey(record.id)))) continue;
        await this.end(record.id, true);
        removed++;
      }
      if (batch.length < PURGE_BATCH) break;
      after = batch[batch.length - 1]!.id;
    }
    // What is left has no old row: a session opened lately (kept), or bytes of none.
    for (const [id, touched] of lastTouched) {
      if (touched >= cutoff || (UPLOAD_ID.test(id) && (await this.records.getUploadSession(id)))) continue;
      await this.storage.deletePrefix(uploadPrefix(id));
    }
    return removed;
  }

  /** POST ?digest=: stream the body straight into place, verified on the way (VerifyingStream). */
  async uploadMonolithic(repository: string, digest: Digest, body: UploadBody): Promise<BlobInfo> {
    const verifier = new VerifyingStream(digest, body.length, (received) =>
      new RegistryError('SIZE_INVALID', undefined, { detail: { expected: body.length, received } }),
    );
    try {
      return await this.blobs.putVerified(repository, digest, verifying(body.stream, verifier));
    } catch (err) {
      throw verifier.failure ?? err;
    }
  }

  /** The session as this process left it when storage shows no change since, else read from storage. */
  private async current(repository: string, id: string): Promise<Session> {
    if (!UPLOAD_ID.test(id)) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', undefined, { detail: { uuid: id.slice(0, 80) } });
    const session = this.known.get(id);
    if (!session || session.info.repository !== repository) return this.load(repository, id);
    const [open, next] = await Promise.all([
      // Ended by another process? Only where other processes share the rows: every end of a
      // session in a database this process alone opens (PGlite) went through `end` here. Saves
      // a query on the HTTP thread per request (PGlite runs there): 5 % of chunked pushes.
      this.records.shared ? this.records.getUploadSession(id).then((record) => record !== undefined) : true,
      this.storage.stat(this.appending ? uploadDataPath(id) : uploadPartPath(id, session.offset)),
    ]);
    const moved = this.appending ? (next?.size ?? 0) !== session.offset : next !== undefined;
    if (!open || moved) return this.load(repository, id);
    return session;
  }

  private async load(repository: string, id: string): Promise<Session> {
    if (!UPLOAD_ID.test(id)) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', undefined, { detail: { uuid: id.slice(0, 80) } });
    const record = await this.records.getUploadSession(id);
    if (record?.repository !== repository) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', undefined, { detail: { uuid: id } });
    const info: SessionInfo = { repository, ...(record.algorithm ? { algorithm: record.algorithm as DigestAlgorithm } : {}) };
    const objects = await this.storage.list(uploadPrefix(id));
    const stored = objects.length > 0;
    const partsPrefix = `${uploadPartsPrefix(id)}/`;
    const parts = objects.filter((o) => o.path.startsWith(partsPrefix));
    const data = objects.find((o) => o.path === uploadDataPath(id));
    if (data) {
      // Appended (see AppendingDriver); parts beside it mean a corrupt session.
      if (parts.length > 0) throw new RegistryError('BLOB_UPLOAD_INVALID', 'upload session is inconsistent', { detail: { uuid: id } });
      return { id, info, parts: data.size > 0 ? [data] : [], offset: data.size, stored };
    }
    let offset = 0;
    for (const part of parts) {
      // Parts are named by their offset; anything else means a corrupt session.
      if (Number(part.path.slice(partsPrefix.length)) !== offset) {
        throw new RegistryError('BLOB_UPLOAD_INVALID', 'upload session is inconsistent', { detail: { uuid: id } });
      }
      offset += part.size;
    }
    return { id, info, parts, offset, stored };
  }

  private async locked<T>(repository: string, id: string, work: (session: Session) => Promise<T>): Promise<T> {
    if (!UPLOAD_ID.test(id)) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', undefined, { detail: { uuid: id.slice(0, 80) } });
    const key = lockKey(id);
    const token = randomUUID();
    // Wait for a holder to finish rather than fail: a lock left by a crashed replica expires
    // within the TTL, and a concurrent writer then meets a moved offset and gets its 416.
    const deadline = Date.now() + (LOCK_TTL_SECONDS + 1) * 1000;
    while (!(await this.cache.setIfAbsent(key, token, LOCK_TTL_SECONDS))) {
      if (Date.now() > deadline) {
        const session = await this.load(repository, id);
        throw new RegistryError('RANGE_INVALID', 'another request is writing to this upload', {
          headers: { Range: rangeHeader(session.offset) },
        });
      }
      await delay(LOCK_POLL_MS);
    }
    // Keep the lock while a long chunk streams in; a crashed holder loses it within the TTL.
    const refresh = setInterval(() => {
      void this.cache
        .get(key)
        .then((held) => (held?.toString() === token ? this.cache.set(key, token, LOCK_TTL_SECONDS) : undefined))
        .catch(() => undefined);
    }, (LOCK_TTL_SECONDS * 1000) / 3);
    refresh.unref();
    try {
      const session = await this.current(repository, id);
      return await work(session);
    } catch (err) {
      // The session may be half-changed (a part written then removed): read storage next time.
      this.known.delete(id);
      throw err;
    } finally {
      clearInterval(refresh);
      await this.cache.deleteIfEquals(key, token).catch(() => undefined);
    }
  }

  /**
   * Store one chunk at the session's offset (appended to `data`, or as the part named by the
   * offset), hashing it on the way when the running hash is at hand, and advance the session.
   * Returns how to take the chunk back out, and the digest of everything up to the new offset
   * when known.
   */
  private async writeChunk(
    session: Session,
    body: UploadBody,
  ): Promise<{ undo: () => Promise<void>; algorithm: DigestAlgorithm; hex?: string } | undefined> {
    const { range } = body;
    if (range) {
      const rangeLength = range.end - range.start + 1;
      if (range.start !== session.offset || rangeLength <= 0 || (body.length !== undefined && body.length !== rangeLength)) {
        throw new RegistryError('RANGE_INVALID', undefined, {
          headers: { Range: rangeHeader(session.offset) },
          detail: { offset: session.offset },
        });
      }
    }
    if (body.length === 0) {
      body.stream.resume();
      return undefined;
    }
    const algorithm = session.info.algorithm ?? 'sha256';
    const start = session.offset;
    // Taken out while the chunk streams: if the write fails, the half-fed hash is dropped.
    const hash = start === 0 ? runningHash(algorithm) : this.running.take(session.id, algorithm, start);
    const hasher = hash?.feed();
    const dropHash = () => {
      hasher?.abandon();
      hash?.dispose();
    };
    const stream = hasher ? tap(body.stream, hasher) : body.stream;
    // From here on something may be in storage, even if this chunk fails.
    session.stored = true;
    const appending = this.appending;
    const path = appending ? uploadDataPath(session.id) : uploadPartPath(session.id, start);
    let size: number;
    try {
      size = appending ? (await appending.append(path, start, stream)) - start : await this.storage.put(path, stream);
    } catch (err) {
      dropHash();
      throw err;
    }
    const undo = appending ? () => appending.truncate(path, start) : () => this.storage.delete(path);
    const expected = range ? range.end - range.start + 1 : body.length;
    if (size !== 0 && expected !== undefined && size !== expected) {
      dropHash();
      await undo();
      throw new RegistryError('RANGE_INVALID', 'chunk length does not match Content-Range', {
        headers: { Range: rangeHeader(start) },
      });
    }
    const hex = await hasher?.checkpoint();
    if (hash && hex === undefined) hash.dispose();
    if (size === 0) {
      await undo();
      if (hash && hex !== undefined) this.running.put(session.id, start, hash, hex);
      return undefined;
    }
    session.offset += size;
    const modifiedAt = new Date();
    if (appending) session.parts = [{ path, size: session.offset, modifiedAt }];
    else session.parts.push({ path, size, modifiedAt });
    if (!hash || hex === undefined) return { undo, algorithm };
    this.running.put(session.id, session.offset, hash, hex);
    await this.cache.set(digestKey(session.id, algorithm, session.offset), hex, this.ttlSeconds);
    return { undo, algorithm, hex };
  }

  /** The hex digest of everything received: from this process, the cache, else by re-reading the parts. */
  private async currentDigest(session: Session, algorithm: DigestAlgorithm): Promise<string> {
    const local = this.running.peek(session.id, algorithm, session.offset);
    if (local) return local;
    const cached = await this.cache.get(digestKey(session.id, algorithm, session.offset));
    if (cached) return cached.toString();
    const hash = newHash(algorithm);
    for (const part of session.parts) {
      for await (const chunk of await this.storage.read(part.path)) hash.update(chunk as Buffer);
    }
    return hash.digest('hex');
  }
}

/** Whether a final chunk on an empty session is the whole blob (anything else takes the checks of writePart). */
function wholeBlob(body: UploadBody): boolean {
  if (body.length === 0) return false;
  if (!body.range) return true;
  return body.range.start === 0 && body.range.end >= 0 && (body.length === undefined || body.length === body.range.end + 1);
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
