/**
 * Manifests, tags and referrers of a repository.
 *
 * Caching (the GET/HEAD-by-tag hot path): manifest bytes are content-addressed, so they sit in
 * an in-process LRU by digest forever. What may change is which digest a tag names and whether
 * a repository still holds a digest; both go to the shared cache (Redis across replicas) with
 * invalidation on PUT and DELETE and a short TTL (60 s bounds what a read racing a write can
 * leave behind), and a miss or a stale entry falls back to the metadata store.
 */
import type { CacheStore } from '../cache/cache.ts';
import type { MetadataStore, ReferrerDescriptor } from '../metadata/store.ts';
import { RegistryError } from '../errors.ts';
import { parseTag, type Digest, type Reference } from '../oci/grammar.ts';
import { digestOf } from '../oci/digest.ts';
import { parseManifest } from '../oci/manifest.ts';
import { LruCache } from '../cache/lru.ts';

export interface StoredManifest {
  digest: string;
  mediaType: string;
  content: Buffer;
}

export interface PutManifestResult {
  digest: string;
  /** Digest of the `subject`, when the manifest has one (OCI-Subject header). */
  subject?: string;
  tags: string[];
}

export interface ManifestServiceDeps {
  metadata: MetadataStore;
  cache: CacheStore;
  maxManifestBytes: number;
  /** Bytes of manifest content kept in process. */
  lruBytes?: number;
  /** How long tag and presence entries live in the shared cache. */
  cacheTtlSeconds?: number;
}

function tagKey(repository: string, tag: string): string {
  return `tag:${repository}:${tag}`;
}
function presenceKey(repository: string, digest: string): string {
  return `manifest:${repository}@${digest}`;
}

export class ManifestService {
  private readonly metadata: MetadataStore;
  private readonly cache: CacheStore;
  private readonly lru: LruCache<Buffer>;
  private readonly ttl: number;
  readonly maxManifestBytes: number;

  constructor(deps: ManifestServiceDeps) {
    this.metadata = deps.metadata;
    this.cache = deps.cache;
    this.maxManifestBytes = deps.maxManifestBytes;
    this.lru = new LruCache<Buffer>({ maxBytes: deps.lruBytes ?? 64 * 1024 * 1024, sizeOf: (b) => b.length });
    this.ttl = deps.cacheTtlSeconds ?? 60;
  }

  async put(repository: string, reference: Reference, content: Buffer, contentType: string | undefined, extraTags: string[] = []): Promise<PutManifestResult> {
    if (content.length > this.maxManifestBytes) {
      throw new RegistryError('SIZE_INVALID', 'manifest too large', { status: 413, detail: { limit: this.maxManifestBytes } });
    }
    const algorithm = reference.kind === 'digest' ? reference.digest.algorithm : 'sha256';
    const digest = digestOf(content, algorithm);
    if (reference.kind === 'digest' && reference.digest.value !== digest) {
      throw new RegistryError('DIGEST_INVALID', 'manifest digest does not match the content', { detail: { expected: reference.digest.value, actual: digest } });
    }
    const manifest = parseManifest(content, contentType);
    const [blobs, children] = await Promise.all([
      Promise.all(manifest.blobs.map((d) => this.metadata.getLinkedBlob(repository, d))),
      Promise.all(manifest.manifests.map((d) => this.hasManifest(repository, d))),
    ]);
    const missingBlob = manifest.blobs.find((_, i) => !blobs[i]);
    if (missingBlob) throw new RegistryError('MANIFEST_BLOB_UNKNOWN', 'blob unknown to registry', { detail: { digest: missingBlob } });
    const missingChild = manifest.manifests.find((_, i) => !children[i]);
    if (missingChild) throw new RegistryError('MANIFEST_BLOB_UNKNOWN', 'manifest unknown to registry', { detail: { digest: missingChild } });

    const tags = [...new Set([...(reference.kind === 'tag' ? [reference.tag] : []), ...extraTags.map(parseTag)])];
    await this.metadata.putManifest(
      {
        repository,
        digest,
        mediaType: manifest.mediaType,
        content,
        ...(manifest.artifactType !== undefined ? { artifactType: manifest.artifactType } : {}),
        ...(manifest.subject ? { subject: manifest.subject.digest } : {}),
        ...(manifest.annotations ? { annotations: manifest.annotations } : {}),
        references: { blobs: manifest.blobs, manifests: manifest.manifests },
      },
      tags,
    );
    this.lru.set(digest, content);
    // Tags are invalidated, not overwritten: two replicas moving one tag at once could
    // otherwise leave the loser's digest cached; the next read takes it from the store.
    await Promise.all([
      this.cache.set(presenceKey(repository, digest), manifest.mediaType, this.ttl),
      tags.length > 0 ? this.cache.delete(...tags.map((tag) => tagKey(repository, tag))) : undefined,
    ]);
    return { digest, tags, ...(manifest.subject ? { subject: manifest.subject.digest } : {}) };
  }

  /** The manifest a tag or digest names in `repository`, else MANIFEST_UNKNOWN. */
  async get(repository: string, reference: Reference): Promise<StoredManifest> {
    if (reference.kind === 'digest') {
      const found = await this.byDigest(repository, reference.digest.value);
      if (!found) throw unknownManifest(reference.digest.value);
      return found;
    }
    const cachedDigest = await this.cache.get(tagKey(repository, reference.tag));
    if (cachedDigest) {
      const found = await this.byDigest(repository, cachedDigest.toString());
      if (found) return found;
      // The tag moved or its manifest was deleted: drop the stale entry and ask the store.
      await this.cache.delete(tagKey(repository, reference.tag));
    }
    const digest = await this.metadata.resolveTag(repository, reference.tag);
    if (!digest) throw unknownManifest(reference.tag);
    const found = await this.byDigest(repository, digest);
    if (!found) throw unknownManifest(reference.tag);
    await this.cache.set(tagKey(repository, reference.tag), digest, this.ttl);
    return found;
  }

  /** DELETE by digest removes the manifest and its tags; by tag removes only the tag. */
  async delete(repository: string, reference: Reference): Promise<void> {
    if (reference.kind === 'tag') {
      const existed = await this.metadata.deleteTag(repository, reference.tag);
      await this.cache.delete(tagKey(repository, reference.tag));
      if (!existed) throw unknownManifest(reference.tag);
      return;
    }
    const existed = await this.metadata.deleteManifest(repository, reference.digest.value);
    await this.cache.delete(presenceKey(repository, reference.digest.value));
    if (!existed) throw unknownManifest(reference.digest.value);
  }

  async tags(repository: string, limit: number | undefined, after: string | undefined): Promise<string[] | undefined> {
    return this.metadata.listTags(repository, { ...(limit !== undefined ? { limit } : {}), ...(after !== undefined ? { after } : {}) });
  }

  async referrers(repository: string, subject: Digest, artifactType?: string): Promise<ReferrerDescriptor[]> {
    return this.metadata.listReferrers(repository, subject.value, artifactType);
  }

  private async hasManifest(repository: string, digest: string): Promise<boolean> {
    if (await this.cache.get(presenceKey(repository, digest))) return true;
    return (await this.metadata.getManifest(repository, digest)) !== undefined;
  }

  private async byDigest(repository: string, digest: string): Promise<StoredManifest | undefined> {
    const mediaType = await this.cache.get(presenceKey(repository, digest));
    if (mediaType) {
      const content = this.lru.get(digest);
      if (content) return { digest, mediaType: mediaType.toString(), content };
    }
    const record = await this.metadata.getManifest(repository, digest);
    if (!record) return undefined;
    this.lru.set(digest, record.content);
    await this.cache.set(presenceKey(repository, digest), record.mediaType, this.ttl);
    return { digest, mediaType: record.mediaType, content: record.content };
  }
}

function unknownManifest(reference: string): RegistryError {
  return new RegistryError('MANIFEST_UNKNOWN', undefined, { detail: { reference } });
}
