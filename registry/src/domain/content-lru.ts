/**
 * An in-process LRU of manifest bytes keyed by digest. Content-addressed bytes never change,
 * so entries need no invalidation across replicas; whether a repository still holds a digest
 * is checked elsewhere. Synchronous on purpose: the manifest GET hot path awaits nothing here.
 */
export class ContentLru {
  private readonly entries = new Map<string, Buffer>();
  private bytes = 0;

  constructor(private readonly maxBytes: number, private readonly maxEntryBytes = Math.max(1, Math.floor(maxBytes / 8))) {}

  get(key: string): Buffer | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) {
      // Move to the most recently used end.
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }

  set(key: string, value: Buffer): void {
    if (value.length > this.maxEntryBytes) return;
    const old = this.entries.get(key);
    if (old !== undefined) {
      this.bytes -= old.length;
      this.entries.delete(key);
    }
    this.entries.set(key, value);
    this.bytes += value.length;
    for (const [k, v] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(k);
      this.bytes -= v.length;
    }
  }

  delete(key: string): void {
    const old = this.entries.get(key);
    if (old === undefined) return;
    this.bytes -= old.length;
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}
