/**
 * The cache seam: short-lived shared state. Redis in production (shared by every replica),
 * memory when embedded. Used for upload hash states, manifest/tag caching, rate-limit
 * counters and locks. Nothing here may be the only copy of data the registry cannot rebuild:
 * losing the cache costs time, never correctness.
 *
 * Every implementation passes the shared suite in registry/test/cache/cache-suite.ts.
 */
export interface CacheStore {
  /** Short name for logs and health output: "memory", "redis". */
  readonly name: string;
  get(key: string): Promise<Buffer | undefined>;
  /** Store `value` for `ttlSeconds` (> 0). */
  set(key: string, value: Buffer | string, ttlSeconds: number): Promise<void>;
  delete(...keys: string[]): Promise<void>;
  /** Store only if the key is absent; true when stored. The basis of locks. */
  setIfAbsent(key: string, value: Buffer | string, ttlSeconds: number): Promise<boolean>;
  /** Delete the key only if it currently holds `value`; true when deleted. Releases locks safely. */
  deleteIfEquals(key: string, value: Buffer | string): Promise<boolean>;
  /** Atomically increment a counter; the TTL is set when the counter is created. Returns the new value. */
  increment(key: string, ttlSeconds: number): Promise<number>;
  /** Throws when the backend is unreachable (health checks). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
