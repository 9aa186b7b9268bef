/**
 * CacheStore on Redis (production: shared by every replica). Compare-and-delete and
 * increment-with-TTL are Lua scripts, so each is one atomic step on the server.
 */
import { Redis } from 'ioredis';
import type { CacheStore } from './cache.ts';

export interface RedisCacheOptions {
  /** redis://[:password@]host:port[/db] (rediss:// for TLS). */
  url: string;
  /** Prepended to every key, so several registries can share one Redis (default "berth:"). */
  keyPrefix?: string;
  /** Connection errors (the client reconnects by itself); ignored when absent. */
  onError?: (err: Error) => void;
}

const PING_TIMEOUT_MS = 5_000;

// Lua compares strings bytewise, so binary values work.
const DELETE_IF_EQUALS = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`;

// The TTL is set only when the key has none, i.e. when INCR just created it.
const INCREMENT_WITH_TTL = `
local value = redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return value`;

/** The scripts registered with defineCommand (ioredis' types do not know them). */
interface BerthScripts {
  berthDeleteIfEquals(key: string, value: Buffer | string): Promise<number>;
  berthIncrementWithTtl(key: string, ttlMs: number): Promise<number>;
}

export class RedisCache implements CacheStore {
  readonly name = 'redis';
  readonly #redis: Redis;
  readonly #scripts: BerthScripts;

  constructor(options: RedisCacheOptions) {
    this.#redis = new Redis(options.url, {
      keyPrefix: options.keyPrefix ?? 'berth:',
      // Fail a command after a few reconnection attempts instead of queueing it forever:
      // the cache must never hang a request.
      maxRetriesPerRequest: 2,
      connectTimeout: 5_000,
    });
    this.#redis.on('error', (err: Error) => options.onError?.(err));
    this.#redis.defineCommand('berthDeleteIfEquals', { numberOfKeys: 1, lua: DELETE_IF_EQUALS });
    this.#redis.defineCommand('berthIncrementWithTtl', { numberOfKeys: 1, lua: INCREMENT_WITH_TTL });
    this.#scripts = this.#redis as unknown as BerthScripts;
  }

  async get(key: string): Promise<Buffer | undefined> {
    return (await this.#redis.getBuffer(key)) ?? undefined;
  }

  async set(key: string, value: Buffer | string, ttlSeconds: number): Promise<void> {
    await this.#redis.set(key, value, 'PX', ttlMs(ttlSeconds));
  }

  async delete(...keys: string[]): Promise<void> {
    if (keys.length > 0) await this.#redis.del(...keys);
  }

  async setIfAbsent(key: string, value: Buffer | string, ttlSeconds: number): Promise<boolean> {
    const reply = await this.#redis.set(key, value, 'PX', ttlMs(ttlSeconds), 'NX');
    return reply === 'OK';
  }

  async deleteIfEquals(key: string, value: Buffer | string): Promise<boolean> {
    return (await this.#scripts.berthDeleteIfEquals(key, value)) === 1;
  }

  async increment(key: string, ttlSeconds: number): Promise<number> {
    return this.#scripts.berthIncrementWithTtl(key, ttlMs(ttlSeconds));
  }

  async ping(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`redis did not answer PING within ${PING_TIMEOUT_MS} ms`)), PING_TIMEOUT_MS);
    });
    try {
      await Promise.race([this.#redis.ping(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    try {
      await this.#redis.quit();
    } catch {
      // Not connected: nothing to say goodbye to.
      this.#redis.disconnect();
    }
  }
}

/** Milliseconds for PX/PEXPIRE, so fractional TTLs work too. */
function ttlMs(ttlSeconds: number): number {
  if (!(ttlSeconds > 0) || !Number.isFinite(ttlSeconds)) throw new RangeError(`ttlSeconds must be > 0, got ${ttlSeconds}`);
  return Math.max(1, Math.ceil(ttlSeconds * 1000));
}
