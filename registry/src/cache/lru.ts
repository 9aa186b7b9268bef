/**
 * An in-process least-recently-used cache bounded by total size, for immutable content
 * (manifests by digest) in front of the shared cache and the database. Not a CacheStore:
 * no TTL, since what it holds never changes; entries leave only when space is needed or
 * when deleted. Also the filesystem driver's bookkeeping of what it keeps in the page cache
 * (storage/page-cache.ts), which acts on the entries it evicts.
 */
export interface LruCacheOptions<V, K = string> {
  /** Upper bound on the sum of sizeOf(value) over all entries. */
  maxBytes: number;
  /** Size of a value in bytes (e.g. `(b) => b.length`). */
  sizeOf: (value: V) => number;
  /** Called for each entry evicted to make room (not for deletes or replaced values). */
  onEvict?: (key: K, value: V) => void;
}

export class LruCache<V, K = string> {
  /** Map order is recency: the first key is the least recently used. */
  readonly #entries = new Map<K, { value: V; size: number }>();
  readonly #maxBytes: number;
  readonly #sizeOf: (value: V) => number;
  readonly #onEvict: ((key: K, value: V) => void) | undefined;
  #bytes = 0;

  constructor(options: LruCacheOptions<V, K>) {
    if (!(options.maxBytes >= 0)) throw new RangeError('maxBytes must be >= 0');
    this.#maxBytes = options.maxBytes;
    this.#sizeOf = options.sizeOf;
    this.#onEvict = options.onEvict;
  }

  /** The value, marked as most recently used. */
  get(key: K): V | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry.value;
  }

  has(key: K): boolean {
    return this.#entries.has(key);
  }

  /** Store a value, evicting the least recently used ones to fit. A value larger than the whole cache is not stored. */
  set(key: K, value: V): void {
    this.delete(key);
    const size = this.#sizeOf(value);
    if (!(size >= 0) || size > this.#maxBytes) return;
    this.#entries.set(key, { value, size });
    this.#bytes += size;
    for (const [oldestKey, oldest] of this.#entries) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#entries.delete(oldestKey);
      this.#bytes -= oldest.size;
      this.#onEvict?.(oldestKey, oldest.value);
    }
  }

  delete(key: K): boolean {
    const entry = this.#entries.get(key);
    if (!entry) return false;
    this.#entries.delete(key);
    this.#bytes -= entry.size;
    return true;
  }

  clear(): void {
    this.#entries.clear();
    this.#bytes = 0;
  }

  /** Number of entries. */
  get size(): number {
    return this.#entries.size;
  }

  /** Sum of the sizes of the entries. */
  get bytes(): number {
    return this.#bytes;
  }
}
