/**
 * Digests of streamed blobs computed on a worker thread, so that SHA-256 (about a quarter of a
 * push's CPU, measured with perf) runs on another core than the one JavaScript thread that
 * parses HTTP for every request.
 *
 * The bytes cross in shared memory: a stream copies what it receives into blocks of one
 * SharedArrayBuffer and posts only "block k holds n bytes of stream s"; the worker keeps one
 * Node crypto hash per stream and answers when it has taken a block, which only then is filled
 * again. Messages of a stream are handled in the order they were posted, so the digest is that
 * of the bytes in order.
 *
 * `streamHasher` falls back to hashing in this thread (Node's crypto, as before) when no block
 * is free or the worker cannot be started: correctness never depends on the worker.
 */
import { createHash, type Hash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type { DigestAlgorithm } from './grammar.ts';

/** What a verifying stream needs from a hasher; `update` returns a promise only when it must wait. */
export interface StreamHasher {
  update(chunk: Buffer): Promise<void> | undefined;
  digest(): Promise<string>;
  /** Give up (the stream failed): no digest will be asked for. */
  abandon(): void;
}

const BLOCK_SIZE = 512 * 1024;
/** Two per stream, four streams at once (more hash in this thread): 4 MiB of shared memory, resident once used. */
const BLOCK_COUNT = 8;

// The worker's code, run with `eval` so the bundle needs no second file.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const memory = Buffer.from(workerData.memory);
const hashes = new Map();
parentPort.on('message', (m) => {
  if (m.op === 'update') {
    let hash = hashes.get(m.id);
    if (!hash) hashes.set(m.id, (hash = createHash(m.algorithm)));
    if (m.bytes) {
      hash.update(m.bytes);
    } else {
      hash.update(memory.subarray(m.offset, m.offset + m.length));
      parentPort.postMessage({ op: 'taken', id: m.id, block: m.block });
    }
  } else if (m.op === 'digest') {
    const hash = hashes.get(m.id) ?? createHash(m.algorithm);
    hashes.delete(m.id);
    parentPort.postMessage({ op: 'digest', id: m.id, hex: hash.digest('hex') });
  } else if (m.op === 'peek') {
    let hash = hashes.get(m.id);
    if (!hash) hashes.set(m.id, (hash = createHash(m.algorithm)));
    parentPort.postMessage({ op: 'digest', id: m.id, hex: hash.copy().digest('hex') });
  } else if (m.op === 'drop') {
    hashes.delete(m.id);
  }
});
`;

type Reply = { op: 'taken'; id: number; block: number } | { op: 'digest'; id: number; hex: string };

class HashWorker {
  private worker: Worker | undefined;
  private failed = false;
  private readonly memory = new SharedArrayBuffer(BLOCK_SIZE * BLOCK_COUNT);
  /** A Buffer over each block, made once (the copy into a block is on every upload's path). */
  private readonly blockViews = Array.from({ length: BLOCK_COUNT }, (_, i) => Buffer.from(this.memory, i * BLOCK_SIZE, BLOCK_SIZE));
  private readonly free: number[] = Array.from({ length: BLOCK_COUNT }, (_, i) => BLOCK_COUNT - 1 - i);
  private readonly streams = new Map<number, OffloadedHasher>();
  private nextId = 1;

  /** A hasher on the worker, or undefined when it has no two free blocks or cannot run. */
  hasher(algorithm: DigestAlgorithm): OffloadedHasher | undefined {
    if (this.failed || this.free.length < 2) return undefined;
    return this.lend(this.newHashId(), algorithm);
  }

  /** A number for a hash on the worker (streams and running hashes share the numbering). */
  newHashId(): number {
    return this.nextId++;
  }

  /**
   * A hasher feeding the worker's hash `id` (created on first use, kept after a checkpoint):
   * through two blocks when free, else by posting copies of the bytes. Undefined once the
   * worker has failed.
   */
  continueHash(id: number, algorithm: DigestAlgorithm): OffloadedHasher | undefined {
    if (this.failed) return undefined;
    return this.lend(id, algorithm);
  }

  /** Starts the worker if it is not running; false when it has failed or cannot start. */
  canRun(): boolean {
    return !this.failed && this.start() !== undefined;
  }

  private lend(id: number, algorithm: DigestAlgorithm): OffloadedHasher | undefined {
    const worker = this.start();
    if (!worker) return undefined;
    const blocks = this.free.length >= 2 ? [this.free.pop()!, this.free.pop()!] : [];
    const hasher = new OffloadedHasher(id, algorithm, blocks, this);
    // Referenced while a stream waits on it, so a pending digest keeps the process alive.
    if (this.streams.size === 0) worker.ref();
    this.streams.set(hasher.id, hasher);
    return hasher;
  }

  get freeBlocks(): number {
    return this.free.length;
  }

  block(index: number): Buffer {
    return this.blockViews[index]!;
  }

  post(message: Record<string, unknown>, transfer?: ArrayBuffer[]): void {
    this.worker?.postMessage(message, transfer);
  }

  release(hasher: OffloadedHasher, blocks: number[]): void {
    if (this.streams.get(hasher.id) === hasher) this.streams.delete(hasher.id);
    this.free.push(...blocks);
    if (this.streams.size === 0) this.worker?.unref();
  }

  private start(): Worker | undefined {
    if (this.worker) return this.worker;
    try {
      // No inherited node flags: its code is a CommonJS script whatever the process runs with.
      const worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [], workerData: { memory: this.memory } });
      worker.on('message', (reply: Reply) => this.streams.get(reply.id)?.receive(reply));
      worker.on('error', (err) => this.fail(err));
      worker.on('exit', () => this.fail(new Error('the hashing worker exited')));
      // Unreferenced while idle (after the listeners: adding a 'message' listener refs it
      // again), so an idle worker never keeps the process from exiting.
      worker.unref();
      this.worker = worker;
      return worker;
    } catch {
      this.failed = true;
      return undefined;
    }
  }

  private fail(err: Error): void {
    this.failed = true;
    this.worker = undefined;
    for (const stream of [...this.streams.values()]) stream.fail(err);
  }
}

const hashWorker = new HashWorker();

class OffloadedHasher implements StreamHasher {
  private current = 0;
  private fill = 0;
  /** Blocks posted and not yet taken by the worker. */
  private readonly posted = new Set<number>();
  private waitingForBlock: { resolve: () => void; reject: (err: Error) => void } | undefined;
  private waitingForDigest: { resolve: (hex: string) => void; reject: (err: Error) => void } | undefined;
  private closed = false;
  private released = false;
  private failure: Error | undefined;

  constructor(
    readonly id: number,
    private readonly algorithm: DigestAlgorithm,
    /** Two blocks, or none: the bytes are then posted as copies. */
    private readonly blocks: number[],
    private readonly owner: HashWorker,
  ) {}

  update(chunk: Buffer): Promise<void> | undefined {
    return this.copy(chunk, 0);
  }

  async digest(): Promise<string> {
    return this.finish('digest');
  }

  /** The digest of everything fed to this hash so far (by earlier hashers of the same id too); the worker keeps the hash. Ends this hasher. */
  async checkpoint(): Promise<string> {
    return this.finish('peek');
  }

  private async finish(op: 'digest' | 'peek'): Promise<string> {
    if (this.failure) throw this.failure;
    if (this.fill > 0) this.post();
    this.closed = true;
    const hex = new Promise<string>((resolve, reject) => (this.waitingForDigest = { resolve, reject }));
    this.owner.post({ op, id: this.id, algorithm: this.algorithm });
    return hex;
  }

  abandon(): void {
    if (this.closed) return;
    this.closed = true;
    this.owner.post({ op: 'drop', id: this.id });
    this.releaseWhenIdle();
  }

  receive(reply: Reply): void {
    if (reply.op === 'taken') {
      this.posted.delete(reply.block);
      const waiting = this.waitingForBlock;
      this.waitingForBlock = undefined;
      waiting?.resolve();
      this.releaseWhenIdle();
    } else {
      // Every block was taken before this answer (the worker keeps the order).
      this.release();
      this.waitingForDigest?.resolve(reply.hex);
    }
  }

  fail(err: Error): void {
    this.failure = err;
    this.release();
    this.waitingForBlock?.reject(err);
    this.waitingForDigest?.reject(err);
  }

  /** Copy `chunk` from `offset` into blocks, posting each full one; waits only for a block still with the worker. */
  private copy(chunk: Buffer, offset: number): Promise<void> | undefined {
    if (this.blocks.length === 0) {
      if (this.failure) return Promise.reject(this.failure);
      // A copy in an ArrayBuffer of its own (Buffer#slice would be a view on pooled memory), moved to the worker.
      const bytes = new Uint8Array(chunk.subarray(offset));
      this.owner.post({ op: 'update', id: this.id, algorithm: this.algorithm, bytes }, [bytes.buffer as ArrayBuffer]);
      return undefined;
    }
    while (offset < chunk.length) {
      if (this.failure) return Promise.reject(this.failure);
      const index = this.blocks[this.current]!;
      if (this.posted.has(index)) {
        return new Promise<void>((resolve, reject) => (this.waitingForBlock = { resolve, reject })).then(() => this.copy(chunk, offset));
      }
      const n = Math.min(BLOCK_SIZE - this.fill, chunk.length - offset);
      // Buffer#fill copies with one memcpy. Buffer#copy (TypedArray#set) into shared memory
      // goes through V8's relaxed, word-by-word memmove instead: perf put it at 23 % of the
      // HTTP thread during pushes (3x slower than memcpy here, bench notes).
      this.owner.block(index).fill(chunk.subarray(offset, offset + n), this.fill, this.fill + n);
      this.fill += n;
      offset += n;
      if (this.fill === BLOCK_SIZE) this.post();
    }
    return undefined;
  }

  private post(): void {
    const index = this.blocks[this.current]!;
    this.posted.add(index);
    this.owner.post({ op: 'update', id: this.id, algorithm: this.algorithm, block: index, offset: index * BLOCK_SIZE, length: this.fill });
    this.current ^= 1;
    this.fill = 0;
  }

  private releaseWhenIdle(): void {
    if (this.closed && !this.waitingForDigest && this.posted.size === 0) this.release();
  }

  /** The blocks go back to the pool once, whatever ends the stream. */
  private release(): void {
    if (this.released) return;
    this.released = true;
    this.owner.release(this, this.blocks);
  }
}

class LocalHasher implements StreamHasher {
  private readonly hash: Hash;
  constructor(algorithm: DigestAlgorithm) {
    this.hash = createHash(algorithm);
  }
  update(chunk: Buffer): undefined {
    this.hash.update(chunk);
    return undefined;
  }
  async digest(): Promise<string> {
    return this.hash.digest('hex');
  }
  abandon(): void {}
}

/**
 * The running hash of a chunked upload session, fed request after request. Its state stays
 * where it is between requests (on the worker, or a Node hash here); only the blocks are lent
 * per request, so an idle session holds none.
 */
export interface RunningHash {
  readonly algorithm: DigestAlgorithm;
  /** A hasher for one request's bytes. */
  feed(): ChunkHasher;
  /** Drop the state (the session ended, or was fed bytes that were taken back). */
  dispose(): void;
}

export interface ChunkHasher {
  update(chunk: Buffer): Promise<void> | undefined;
  /** The digest of everything fed so far, over all requests; undefined when it was lost (the worker failed). Ends this request's feeding. */
  checkpoint(): Promise<string | undefined>;
  /** This request's bytes were half fed (it failed): give the blocks back; dispose the running hash. */
  abandon(): void;
}

class LocalRunningHash implements RunningHash {
  private readonly hash: Hash;
  constructor(readonly algorithm: DigestAlgorithm) {
    this.hash = createHash(algorithm);
  }
  feed(): ChunkHasher {
    const hash = this.hash;
    return {
      update: (chunk) => void hash.update(chunk),
      checkpoint: async () => hash.copy().digest('hex'),
      abandon: () => {},
    };
  }
  dispose(): void {}
}

class WorkerRunningHash implements RunningHash {
  private readonly id = hashWorker.newHashId();
  private lost = false;
  constructor(readonly algorithm: DigestAlgorithm) {}

  feed(): ChunkHasher {
    const hasher = this.lost ? undefined : hashWorker.continueHash(this.id, this.algorithm);
    if (!hasher) {
      // The worker failed: this hash is gone; the session's digest is computed from storage.
      this.lost = true;
      return { update: () => undefined, checkpoint: async () => undefined, abandon: () => {} };
    }
    return {
      update: (chunk) =>
        hasher.update(chunk)?.catch(() => {
          this.lost = true;
        }),
      checkpoint: async () => {
        if (this.lost) {
          // An update failed (the worker died mid-request): nothing to ask it.
          hasher.abandon();
          return undefined;
        }
        return hasher.checkpoint().catch(() => {
          this.lost = true;
          return undefined;
        });
      },
      abandon: () => hasher.abandon(),
    };
  }

  dispose(): void {
    this.lost = true;
    hashWorker.post({ op: 'drop', id: this.id });
  }
}

/** A running hash for a chunked upload: on the worker when it can run, else in this thread. */
export function runningHash(algorithm: DigestAlgorithm): RunningHash {
  return hashWorker.canRun() ? new WorkerRunningHash(algorithm) : new LocalRunningHash(algorithm);
}

/** A hasher for one stream: on the worker when it can, else in this thread. */
export function streamHasher(algorithm: DigestAlgorithm): StreamHasher {
  return hashWorker.hasher(algorithm) ?? new LocalHasher(algorithm);
}

/** Blocks not lent to a stream, and how many there are: for tests and diagnostics. */
export function hashWorkerBlocks(): { free: number; total: number } {
  return { free: hashWorker.freeBlocks, total: BLOCK_COUNT };
}
