/**
 * Failed-login rate limiting, per user name and per client address, over the CacheStore
 * seam (Redis shared by every replica in production, memory when embedded).
 *
 * Fixed windows: a counter per (user|address, window number) whose TTL ends with the window.
 * Retry-After is then exact (the time left in the window) without asking the cache for a
 * TTL. Concurrent attempts may slip a few failures past the limit between check and count;
 * the limit bounds guessing speed, it is not a lock.
 */
import { createHash } from 'node:crypto';
import type { CacheStore } from '../cache/cache.ts';
import { AuthError } from './errors.ts';

export interface LoginRateLimitOptions {
  /** Failed logins allowed per user name per window. */
  maxFailuresPerUser?: number;
  /** Failed logins allowed per client address per window (many users behind one NAT). */
  maxFailuresPerAddress?: number;
  windowSeconds?: number;
  now?: () => Date;
}

export class LoginRateLimiter {
  private readonly cache: CacheStore;
  private readonly maxPerUser: number;
  private readonly maxPerAddress: number;
  private readonly windowSeconds: number;
  private readonly now: () => Date;

  constructor(cache: CacheStore, options: LoginRateLimitOptions = {}) {
    this.cache = cache;
    this.maxPerUser = options.maxFailuresPerUser ?? 10;
    this.maxPerAddress = options.maxFailuresPerAddress ?? 100;
    this.windowSeconds = options.windowSeconds ?? 300;
    this.now = options.now ?? (() => new Date());
    if (this.maxPerUser < 1 || this.maxPerAddress < 1 || this.windowSeconds < 1) {
      throw new RangeError('login rate limits and window must be positive');
    }
  }

  /**
   * Throws TOOMANYREQUESTS (with Retry-After seconds) when this user or address is locked out.
   * Without a known address only the per-user limit applies: lumping unknown callers together
   * would let one guesser lock everyone out.
   */
  async check(username: string, address: string | undefined): Promise<void> {
    const window = this.window();
    const [userFailures, addressFailures] = await Promise.all([
      this.count(this.userKey(username, window.index)),
      address === undefined ? 0 : this.count(this.addressKey(address, window.index)),
    ]);
    if (userFailures >= this.maxPerUser || addressFailures >= this.maxPerAddress) {
      throw new AuthError('TOOMANYREQUESTS', 'too many failed login attempts; try again later', {
        retryAfterSeconds: window.secondsLeft,
      });
    }
  }

  async recordFailure(username: string, address: string | undefined): Promise<void> {
    const window = this.window();
    // The TTL outlives the window by a second so a counter never vanishes inside it.
    const ttl = window.secondsLeft + 1;
    await Promise.all([
      this.cache.increment(this.userKey(username, window.index), ttl),
      address === undefined ? undefined : this.cache.increment(this.addressKey(address, window.index), ttl),
    ]);
  }

  /** A successful login clears the user's failures (not the address's: one good account must not unlock guessing others). */
  async recordSuccess(username: string): Promise<void> {
    await this.cache.delete(this.userKey(username, this.window().index));
  }

  private window(): { index: number; secondsLeft: number } {
    const nowSeconds = this.now().getTime() / 1000;
    const index = Math.floor(nowSeconds / this.windowSeconds);
    const secondsLeft = Math.max(1, Math.ceil((index + 1) * this.windowSeconds - nowSeconds));
    return { index, secondsLeft };
  }

  private async count(key: string): Promise<number> {
    const value = await this.cache.get(key);
    if (value === undefined) return 0;
    const count = Number.parseInt(value.toString('utf8'), 10);
    // An unreadable counter is treated as over the limit rather than silently as zero.
    return Number.isFinite(count) ? count : Number.MAX_SAFE_INTEGER;
  }

  // User names and addresses are hashed: bounded key length, no key injection, no names in Redis.
  private userKey(username: string, window: number): string {
    return `auth:login-failures:user:${digest(username.toLowerCase())}:${window}`;
  }

  private addressKey(address: string, window: number): string {
    return `auth:login-failures:addr:${digest(address)}:${window}`;
  }
}

function digest(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('base64url').slice(0, 22);
}
