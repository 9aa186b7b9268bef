/**
 * CacheStore in process memory (embedded mode, one replica). Entries expire lazily on read
 * and by a periodic sweep; past `maxEntries`, the oldest written entries are evicted first.
 */
import type { CacheStore } from './cache.ts';

export interface MemoryCacheOptions {
  /** Upper bound on stored keys (default 100 000). */
  maxEntries?: number;
  /** How often expired entries are swept, in milliseconds (default 30 000). */
  sweepIntervalMs?: number;
}

interface Entry {
  value: Buffer;
  /** Epoch milliseconds. */
  expiresAt: number;
}

export class MemoryCache implements CacheStore {
  readonly name = 'memory';
  /** Map order is insertion order: the first key is the oldest write. */
  readonly #entries = new Map<string, Entry>();
  readonly #maxEntries: number;
  readonly #sweepTimer: NodeJS.Timeout;

  constructor(options: MemoryCacheOptions = {}) {
    this.#maxEntries = options.maxEntries ?? 100_000;
    if (!Number.isInteger(this.#maxEntries) || this.#maxEntries < 1) throw new RangeError('maxEntries must be a positive integer');
    this.#sweepTimer = setInterval(() => this.#sweep(), options.sweepIntervalMs ?? 30_000);
    // The sweep alone must not keep the process alive.
    this.#sweepTimer.unref();
  }

  async get(key: string): Promise<Buffer | undefined> {
    const entry = this.#live(key);
    // A copy, as a network cache would return: callers may not change what is stored.
    return entry ? Buffer.from(entry.value) : undefined;
  }

  async set(key: string, value: Buffer | string, ttlSeconds: number): Promise<void> {
    this.#store(key, toBuffer(value), ttlSeconds);
  }

  async delete(...keys: string[]): Promise<void> {
    for (const key of keys) this.#entries.delete(key);
  }

  async setIfAbsent(key: string, value: Buffer | string, ttlSeconds: number): Promise<boolean> {
    // No await between the check and the write: atomic on the event loop.
    if (this.#live(key)) return false;
    this.#store(key, toBuffer(value), ttlSeconds);
    return true;
  }

  async deleteIfEquals(key: string, value: Buffer | string): Promise<boolean> {
    const entry = this.#live(key);
    if (!entry || !entry.value.equals(toBuffer(value))) return false;
    this.#entries.delete(key);
    return true;
  }

  async increment(key: string, ttlSeconds: number): Promise<number> {
    const entry = this.#live(key);
    if (!entry) {
      this.#store(key, Buffer.from('1'), ttlSeconds);
      return 1;
    }
    // Stored as decimal text, as Redis does, so get() reads the same on both.
    const current = Number(entry.value.toString());
    if (!Number.isSafeInteger(current)) throw new Error(`cache key ${key} does not hold an integer`);
    entry.value = Buffer.from(String(current + 1));
    return current + 1;
  }

  /** Stored entries, including expired ones not yet swept. */
  get size(): number {
    return this.#entries.size;
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    clearInterval(this.#sweepTimer);
    this.#entries.clear();
  }

  #live(key: string): Entry | undefined {
    const entry = this.#entries.get(key);
    if (entry && entry.expiresAt <= Date.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  #store(key: string, value: Buffer, ttlSeconds: number): void {
    if (!(ttlSeconds > 0) || !Number.isFinite(ttlSeconds)) throw new RangeError(`ttlSeconds must be > 0, got ${ttlSeconds}`);
    // Delete first so a rewritten key moves to the newest end of the eviction order.
    this.#entries.delete(key);
    this.#entries.set(key, { value: Buffer.from(value), expiresAt: Date.now() + ttlSeconds * 1000 });
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
  }

  #sweep(): void {
    const now = Date.now();
    for (const [key, entry] of this.#entries) if (entry.expiresAt <= now) this.#entries.delete(key);
  }
}

function toBuffer(value: Buffer | string): Buffer {
  return typeof value === 'string' ? Buffer.from(value) : value;
}
