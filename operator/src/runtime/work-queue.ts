/**
 * A keyed, deduplicating work queue with the semantics controllers rely on (as client-go's):
 * - a key waiting in the queue is there once, however often it is added;
 * - a key being processed is never handed to a second worker; if it is added meanwhile, it
 *   is queued again when the worker calls done();
 * - failed keys come back after a per-key exponential backoff, and all retries together are
 *   held to a global rate limit.
 */
import { PerKeyBackoff } from './backoff.ts';
import type { BackoffOptions } from './backoff.ts';
import { TokenBucket } from './rate-limit.ts';

export interface WorkQueueOptions {
  backoff?: BackoffOptions;
  /** Global retry rate limit. */
  retriesPerSecond?: number;
  retryBurst?: number;
}

export class WorkQueue<K = string> {
  private readonly queue: K[] = [];
  private readonly dirty = new Set<K>();
  private readonly processing = new Set<K>();
  private readonly delayed = new Map<K, { at: number; timer: NodeJS.Timeout }>();
  private readonly waiters: Array<(key: K | undefined) => void> = [];
  private readonly backoff: PerKeyBackoff<K>;
  private readonly bucket: TokenBucket;
  private shuttingDown = false;

  constructor(options: WorkQueueOptions = {}) {
    this.backoff = new PerKeyBackoff<K>(options.backoff);
    this.bucket = new TokenBucket(options.retriesPerSecond ?? 10, options.retryBurst ?? 100);
  }

  /** Queues key now (deduplicated). */
  add(key: K): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return; // done() will queue it again
    const waiter = this.waiters.shift();
    if (waiter) {
      this.dirty.delete(key);
      this.processing.add(key);
      waiter(key);
    } else {
      this.queue.push(key);
    }
  }

  /** Queues key after delayMs; an earlier pending delay for the same key wins. */
  addAfter(key: K, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) return this.add(key);
    const at = Date.now() + delayMs;
    const pending = this.delayed.get(key);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref?.();
    this.delayed.set(key, { at, timer });
  }

  /** Queues a failed key after its backoff (and the global rate limit); returns the delay. */
  addRateLimited(key: K): number {
    const delay = Math.max(this.backoff.next(key), this.bucket.reserve());
    this.addAfter(key, delay);
    return delay;
  }

  /** Clears the failure history of key (call after a successful reconcile). */
  forget(key: K): void {
    this.backoff.forget(key);
  }

  failures(key: K): number {
    return this.backoff.failuresOf(key);
  }

  /** The next key to process; undefined once the queue is shut down. */
  get(): Promise<K | undefined> {
    const key = this.queue.shift();
    if (key !== undefined) {
      this.dirty.delete(key);
      this.processing.add(key);
      return Promise.resolve(key);
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Marks key processed; if it was added meanwhile, it goes back in the queue. */
  done(key: K): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) {
      this.dirty.delete(key);
      this.add(key);
    }
  }

  get length(): number {
    return this.queue.length;
  }

  shutDown(): void {
    this.shuttingDown = true;
    for (const { timer } of this.delayed.values()) clearTimeout(timer);
    this.delayed.clear();
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
  }
}
