/**
 * Content-addressed blobs: one copy per digest in storage (blobs/<alg>/<2 hex>/<hex>/data),
 * shared by every repository; a repository sees a blob only through its link in metadata.
 *
 * Links are read on every blob GET and HEAD: they go to the shared cache (Redis across
 * replicas) on write and on a miss, are dropped on unlink, and live a short TTL, which bounds
 * how long a link removed behind this module's back (repository deletion) can still be read.
 * With the embedded database this takes a ~1 ms query off the event loop per pull.
 */
import type { Readable } from 'node:stream';
import { PathNotFoundError, type BlobStorageDriver } from '../storage/driver.ts';
import type { MetadataStore } from '../metadata/store.ts';
import type { CacheStore } from '../cache/cache.ts';
import { RegistryError } from '../errors.ts';
import type { Digest } from '../oci/grammar.ts';
import { blobDataPath } from './paths.ts';

export interface BlobInfo {
  digest: string;
  size: number;
}

/** Inclusive byte range already resolved against the blob size. */
export interface ResolvedRange {
  start: number;
  end: number;
}

export interface BlobStoreDeps {
  storage: BlobStorageDriver;
  metadata: MetadataStore;
  /** Caches repository links; without it every stat asks the metadata store. */
  cache?: CacheStore;
  /** How long a cached link lives (default 60 s). */
  cacheTtlSeconds?: number;
}

function linkKey(repository: string, digest: string): string {
  return `bloblink:${repository}@${digest}`;
}

export class BlobStore {
  private readonly storage: BlobStorageDriver;
  private readonly metadata: MetadataStore;
  private readonly cache: CacheStore | undefined;
  private readonly ttl: number;

  constructor(deps: BlobStoreDeps) {
    this.storage = deps.storage;
    this.metadata = deps.metadata;
    this.cache = deps.cache;
    this.ttl = deps.cacheTtlSeconds ?? 60;
  }

  /** The blob as linked in `repository`, else BLOB_UNKNOWN. */
  async stat(repository: string, digest: Digest): Promise<BlobInfo> {
    const cached = await this.cache?.get(linkKey(repository, digest.value));
    if (cached) return { digest: digest.value, size: Number(cached.toString()) };
    const record = await this.metadata.getLinkedBlob(repository, digest.value);
    if (!record) throw new RegistryError('BLOB_UNKNOWN', undefined, { detail: { digest: digest.value } });
    await this.remember(repository, record.digest, record.size);
    return { digest: record.digest, size: record.size };
  }

  /** A stream of the whole blob or of `range` (inclusive, already checked against the size). */
  async read(digest: Digest, range?: ResolvedRange): Promise<Readable> {
    try {
      return await this.storage.read(blobDataPath(digest), range ? { offset: range.start, end: range.end } : undefined);
    } catch (err) {
      // Linked but no longer stored (garbage collection raced this request): unknown, not a 500.
      if (err instanceof PathNotFoundError) throw new RegistryError('BLOB_UNKNOWN', undefined, { detail: { digest: digest.value } });
      throw err;
    }
  }

  /** Remove the blob from `repository` (the data stays for garbage collection). */
  async unlink(repository: string, digest: Digest): Promise<void> {
    const existed = await this.metadata.unlinkBlob(repository, digest.value);
    await this.cache?.delete(linkKey(repository, digest.value));
    if (!existed) throw new RegistryError('BLOB_UNKNOWN', undefined, { detail: { digest: digest.value } });
  }

  /**
   * Link an existing blob into `repository`: from `from` when given (the caller checked pull
   * access on it), else from anywhere in the registry (automatic content discovery).
   * Undefined when there is nothing to mount.
   */
  async mount(repository: string, digest: Digest, from?: string): Promise<BlobInfo | undefined> {
    const record = from !== undefined ? await this.metadata.getLinkedBlob(from, digest.value) : await this.metadata.getBlob(digest.value);
    if (!record) return undefined;
    // The row may outlive its data (garbage collection in progress): only mount what is stored.
    if (!(await this.storage.stat(blobDataPath(digest)))) return undefined;
    await this.metadata.putBlob(repository, { digest: record.digest, size: record.size });
    await this.remember(repository, record.digest, record.size);
    return { digest: record.digest, size: record.size };
  }

  /**
   * Make verified upload parts the blob `digest` and link it to `repository`. The data appears
   * under blobs/ atomically (storage.assemble); when it is already stored the parts are not
   * needed (dedupe) and the caller deletes them with the session.
   */
  async commit(repository: string, digest: Digest, parts: string[], size: number): Promise<BlobInfo> {
    const path = blobDataPath(digest);
    const existing = await this.storage.stat(path);
    if (!existing || existing.size !== size) {
      if (parts.length === 0) await this.storage.put(path, Buffer.alloc(0));
      else await this.storage.assemble(path, parts);
    }
    await this.metadata.putBlob(repository, { digest: digest.value, size });
    await this.remember(repository, digest.value, size);
    return { digest: digest.value, size };
  }

  /**
   * Store a whole blob from `body` straight into place and link it to `repository`. `body` must
   * fail at its end unless its content is `digest` (see VerifyingStream in uploads.ts): the
   * driver makes an object visible only when its stream ends cleanly, so nothing unverified
   * is ever visible, and no upload part has to be moved or assembled.
   */
  async putVerified(repository: string, digest: Digest, body: Readable): Promise<BlobInfo> {
    const size = await this.storage.put(blobDataPath(digest), body);
    await this.metadata.putBlob(repository, { digest: digest.value, size });
    await this.remember(repository, digest.value, size);
    return { digest: digest.value, size };
  }

  private async remember(repository: string, digest: string, size: number): Promise<void> {
    await this.cache?.set(linkKey(repository, digest), String(size), this.ttl);
  }
}
