/**
 * Per-key exponential backoff: base * 2^failures, capped. The work queue asks it how long a
 * failing key waits; a success forgets the key so the next failure starts from the base again.
 */
export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
}

export class PerKeyBackoff<K = string> {
  private readonly failures = new Map<K, number>();

  constructor(private readonly options: BackoffOptions = { baseMs: 500, maxMs: 300_000 }) {}

  /** Records one more failure of key and returns how long it should wait. */
  next(key: K): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    // 2^n overflows to Infinity for large n; Math.min keeps it at the cap.
    return Math.min(this.options.maxMs, this.options.baseMs * 2 ** n);
  }

  failuresOf(key: K): number {
    return this.failures.get(key) ?? 0;
  }

  forget(key: K): void {
    this.failures.delete(key);
  }
}
