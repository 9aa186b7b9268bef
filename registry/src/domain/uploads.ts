/**
 * Blob upload sessions whose state lives in blob storage (_uploads/<uuid>/, see the layout in
 * storage/driver.ts), so a session survives a restart and can be continued on any replica:
 *
 *   - the current offset is the sum of the part sizes listed from storage; each PATCH chunk
 *     is one `put` of a part named by its offset (a part appears whole or not at all);
 *   - the running digest travels in the cache, keyed by upload id and offset: the first part
 *     is hashed with Node's crypto (fastest; docker and podman send one streamed chunk) and
 *     its final digest is saved; later parts use hash-wasm, whose state can be saved and
 *     loaded. When the cache has nothing for the current offset (restart with a memory cache,
 *     eviction), the parts are re-hashed by streaming them back;
 *   - a lock in the cache (setIfAbsent) keeps two requests from writing one session at once.
 *
 * Finishing verifies the digest, then BlobStore.commit moves the parts into place atomically.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { Transform, pipeline, type Readable } from 'node:stream';
import { createSHA256, createSHA512, type IHasher } from 'hash-wasm';
import type { BlobStorageDriver, ObjectInfo } from '../storage/driver.ts';
import type { CacheStore } from '../cache/cache.ts';
import { RegistryError } from '../errors.ts';
import type { Digest, DigestAlgorithm } from '../oci/grammar.ts';
import { newHash } from '../oci/digest.ts';
import type { BlobInfo, BlobStore } from './blob-store.ts';
import { uploadInfoPath, uploadPartPath, uploadPartsPrefix, uploadPrefix } from './paths.ts';

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
  startedAt: string;
  algorithm?: DigestAlgorithm;
}

interface Session {
  id: string;
  info: SessionInfo;
  parts: ObjectInfo[];
  offset: number;
}

export interface BlobUploadSessionsDeps {
  storage: BlobStorageDriver;
  cache: CacheStore;
  blobs: BlobStore;
  /** Lifetime of hash states and locks in the cache. */
  ttlSeconds: number;
}

const UPLOAD_ID = /^[a-zA-Z0-9-]{1,64}$/;
const LOCK_TTL_SECONDS = 15;
const LOCK_POLL_MS = 50;

function hashKey(id: string, algorithm: DigestAlgorithm, offset: number): string {
  return `upload:${id}:state:${algorithm}:${offset}`;
}
function digestKey(id: string, algorithm: DigestAlgorithm, offset: number): string {
  return `upload:${id}:digest:${algorithm}:${offset}`;
}
function lockKey(id: string): string {
  return `upload:${id}:lock`;
}

async function createWasmHasher(algorithm: DigestAlgorithm): Promise<IHasher> {
  const hasher = algorithm === 'sha512' ? await createSHA512() : await createSHA256();
  hasher.init();
  return hasher;
}

/** A pass-through that feeds every chunk to `update`. */
function tap(source: Readable, update: (chunk: Buffer) => void): Readable {
  const transform = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      update(chunk);
      callback(null, chunk);
    },
  });
  // Errors of the source (client went away) reach the storage driver through the transform.
  pipeline(source, transform, () => {});
  return transform;
}

function rangeHeader(offset: number): string {
  // Distribution's convention: an empty session reports 0-0.
  return `0-${offset > 0 ? offset - 1 : 0}`;
}

export class BlobUploadSessions {
  private readonly storage: BlobStorageDriver;
  private readonly cache: CacheStore;
  private readonly blobs: BlobStore;
  private readonly ttlSeconds: number;

  constructor(deps: BlobUploadSessionsDeps) {
    this.storage = deps.storage;
    this.cache = deps.cache;
    this.blobs = deps.blobs;
    this.ttlSeconds = deps.ttlSeconds;
  }

  /** The `Range` header value for a session at `offset`. */
  static rangeHeader = rangeHeader;

  async start(repository: string, algorithm?: DigestAlgorithm): Promise<UploadStatus> {
    const id = randomUUID();
    const info: SessionInfo = { repository, startedAt: new Date().toISOString(), ...(algorithm ? { algorithm } : {}) };
    await this.storage.put(uploadInfoPath(id), Buffer.from(JSON.stringify(info)));
    return { id, repository, offset: 0 };
  }

  async status(repository: string, id: string): Promise<UploadStatus> {
    const session = await this.load(repository, id);
    return { id, repository, offset: session.offset };
  }

  /** PATCH: append one chunk at the current offset. */
  async append(repository: string, id: string, body: UploadBody): Promise<UploadStatus> {
    return this.locked(repository, id, async (session) => {
      await this.writePart(session, body);
      return { id, repository, offset: session.offset };
    });
  }

  /** PUT ?digest=: append the final chunk if any, verify and move the blob into place. */
  async finish(repository: string, id: string, digest: Digest, body?: UploadBody): Promise<BlobInfo> {
    return this.locked(repository, id, async (session) => {
      const written = body ? await this.writePart(session, body) : undefined;
      let actual = written?.algorithm === digest.algorithm ? written.hex : undefined;
      actual ??= await this.currentDigest(session, digest.algorithm);
      if (actual !== digest.encoded) {
        // Leave the session as it was before this request.
        if (written) await this.storage.delete(written.path);
        throw new RegistryError('DIGEST_INVALID', undefined, { detail: { expected: digest.value } });
      }
      const blob = await this.blobs.commit(
        repository,
        digest,
        session.parts.map((p) => p.path),
        session.offset,
      );
      await this.storage.deletePrefix(uploadPrefix(id));
      await this.cache.delete(
        digestKey(id, digest.algorithm, session.offset),
        hashKey(id, digest.algorithm, session.offset),
      );
      return blob;
    });
  }

  async cancel(repository: string, id: string): Promise<void> {
    await this.load(repository, id);
    await this.storage.deletePrefix(uploadPrefix(id));
  }

  /** POST ?digest= (or a PUT with the whole body): stream, hash with Node's crypto, verify, commit. */
  async uploadMonolithic(repository: string, digest: Digest, body: UploadBody): Promise<BlobInfo> {
    const id = randomUUID();
    const path = uploadPartPath(id, 0);
    const hash = newHash(digest.algorithm);
    try {
      const size = await this.storage.put(path, tap(body.stream, (chunk) => hash.update(chunk)));
      if (body.length !== undefined && size !== body.length) {
        throw new RegistryError('SIZE_INVALID', undefined, { detail: { expected: body.length, received: size } });
      }
      if (hash.digest('hex') !== digest.encoded) {
        throw new RegistryError('DIGEST_INVALID', undefined, { detail: { expected: digest.value } });
      }
      return await this.blobs.commit(repository, digest, size > 0 ? [path] : [], size);
    } finally {
      await this.storage.deletePrefix(uploadPrefix(id));
    }
  }

  private async load(repository: string, id: string): Promise<Session> {
    if (!UPLOAD_ID.test(id)) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', undefined, { detail: { uuid: id.slice(0, 80) } });
    const objects = await this.storage.list(uploadPrefix(id));
    const infoPath = uploadInfoPath(id);
    if (!objects.some((o) => o.path === infoPath)) {
      throw new RegistryError('BLOB_UPLOAD_UNKNOWN', undefined, { detail: { uuid: id } });
    }
    const info = JSON.parse((await readAll(await this.storage.read(infoPath))).toString('utf8')) as SessionInfo;
    if (info.repository !== repository) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', undefined, { detail: { uuid: id } });
    const partsPrefix = `${uploadPartsPrefix(id)}/`;
    const parts = objects.filter((o) => o.path.startsWith(partsPrefix));
    let offset = 0;
    for (const part of parts) {
      // Parts are named by their offset; anything else means a corrupt session.
      if (Number(part.path.slice(partsPrefix.length)) !== offset) {
        throw new RegistryError('BLOB_UPLOAD_INVALID', 'upload session is inconsistent', { detail: { uuid: id } });
      }
      offset += part.size;
    }
    return { id, info, parts, offset };
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
      const session = await this.load(repository, id);
      return await work(session);
    } finally {
      clearInterval(refresh);
      await this.cache.deleteIfEquals(key, token).catch(() => undefined);
    }
  }

  /**
   * Store one chunk as the part at the session's offset, hashing it on the way, and advance
   * the session. Returns the digest of everything up to the new offset.
   */
  private async writePart(session: Session, body: UploadBody): Promise<{ path: string; algorithm: DigestAlgorithm; hex: string } | undefined> {
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
    const path = uploadPartPath(session.id, session.offset);
    let size: number;
    let hex: string;
    if (session.offset === 0) {
      const hash = newHash(algorithm);
      size = await this.storage.put(path, tap(body.stream, (chunk) => hash.update(chunk)));
      hex = hash.digest('hex');
    } else {
      const hasher = await this.hasherAt(session, algorithm);
      size = await this.storage.put(path, tap(body.stream, (chunk) => hasher.update(chunk)));
      if (size > 0) {
        const state = Buffer.from(hasher.save());
        hex = hasher.digest('hex');
        await this.cache.set(hashKey(session.id, algorithm, session.offset + size), state, this.ttlSeconds);
      } else {
        hex = hasher.digest('hex');
      }
    }
    if (size === 0) {
      await this.storage.delete(path);
      return undefined;
    }
    const expected = range ? range.end - range.start + 1 : body.length;
    if (expected !== undefined && size !== expected) {
      await this.storage.delete(path);
      throw new RegistryError('RANGE_INVALID', 'chunk length does not match Content-Range', {
        headers: { Range: rangeHeader(session.offset) },
      });
    }
    session.parts.push({ path, size, modifiedAt: new Date() });
    session.offset += size;
    await this.cache.set(digestKey(session.id, algorithm, session.offset), hex, this.ttlSeconds);
    return { path, algorithm, hex };
  }

  /** A hash-wasm hasher holding the state after `session.offset` bytes. */
  private async hasherAt(session: Session, algorithm: DigestAlgorithm): Promise<IHasher> {
    const hasher = await createWasmHasher(algorithm);
    const state = await this.cache.get(hashKey(session.id, algorithm, session.offset));
    if (state) {
      hasher.load(new Uint8Array(state));
      return hasher;
    }
    for (const part of session.parts) {
      for await (const chunk of await this.storage.read(part.path)) hasher.update(chunk as Buffer);
    }
    return hasher;
  }

  /** The hex digest of everything received, from the cache when possible. */
  private async currentDigest(session: Session, algorithm: DigestAlgorithm): Promise<string> {
    const cached = await this.cache.get(digestKey(session.id, algorithm, session.offset));
    if (cached) return cached.toString();
    const state = session.offset > 0 ? await this.cache.get(hashKey(session.id, algorithm, session.offset)) : undefined;
    if (state) {
      const hasher = await createWasmHasher(algorithm);
      hasher.load(new Uint8Array(state));
      return hasher.digest('hex');
    }
    const hash = newHash(algorithm);
    for (const part of session.parts) {
      for await (const chunk of await this.storage.read(part.path)) hash.update(chunk as Buffer);
    }
    return hash.digest('hex');
  }
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
