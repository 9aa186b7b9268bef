/**
 * Keeps the registry's resident memory close to what it actually uses while blobs stream
 * through it, and gives it back once traffic stops.
 *
 * Why. Node's HTTP parser hands every piece of a request body to JavaScript as a fresh buffer
 * of up to 64 KiB (malloc'd outside V8's heap). The registry copies each one on and drops it
 * at once, but V8 frees such a buffer only when it collects the young generation, and V8
 * schedules that by JavaScript allocation, which these buffers barely move: between two young
 * collections tens of MiB of dead body buffers piled up, V8 then ran full mark-compacts about
 * every 70 ms to bound its "external" memory, and glibc kept the high-water mark resident.
 * Measured on a 1 GiB streamed PUT (embedded backends): 48 mark-compacts and +48 MiB
 * resident; with a young collection after every 4 MiB received, 1 mark-compact and +13 MiB,
 * and the push got faster (marking had cost the HTTP thread ~15 % of its time).
 *
 * After a burst the heap holds free pages glibc does not return by itself (free chunks in the
 * middle of its heap): once requests have stopped for a moment, a full collection, the idle
 * hooks (pools dropping spare buffers) and `malloc_trim(0)`. Measured after `bench/drive.ts`'s
 * load: 214 MiB resident before, ~180 after.
 *
 * Both need the collector exposed (`--expose-gc`, REGISTRY_NODE_FLAGS in runtime/node-flags.ts);
 * without it (a registry embedded in another process, the unit tests) nothing is collected
 * early and the idle hooks still run. `malloc_trim` is glibc's; elsewhere it is left out.
 */
import { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

/** V8's collector as `--expose-gc` exposes it. */
export type CollectGarbage = (options?: { type?: 'minor' | 'major'; execution?: 'sync' | 'async' }) => void;

export interface MemoryReclaimerOptions {
  /** The collector; undefined: no early collections. */
  collect?: CollectGarbage;
  /** Hands free heap pages back to the OS (glibc's malloc_trim); undefined: not done. */
  trim?: () => void;
  /** A young collection after this many request-body bytes (default 4 MiB). */
  youngCollectionEveryBytes?: number;
  /** How long without a new request or body byte counts as idle (default 1 s). */
  idleMs?: number;
  /** Traffic since the last release below which an idle moment releases nothing (default 64 MiB). */
  releaseAfterBytes?: number;
}

/** Weight of one request in the traffic that makes an idle release worth it (4096 requests = 64 MiB). */
const REQUEST_WEIGHT = 16 * 1024;

export class MemoryReclaimer {
  private collect: CollectGarbage | undefined;
  private trim: (() => void) | undefined;
  private readonly youngEvery: number;
  private readonly idleMs: number;
  private readonly releaseAfter: number;
  private receivedSinceYoung = 0;
  private trafficSinceRelease = 0;
  private lastActivity = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly idleHooks = new Set<() => void>();
  /** Counters, for tests and diagnostics. */
  readonly counts = { youngCollections: 0, releases: 0 };

  constructor(options: MemoryReclaimerOptions = {}) {
    this.collect = options.collect;
    this.trim = options.trim;
    this.youngEvery = options.youngCollectionEveryBytes ?? 4 * 1024 * 1024;
    this.idleMs = options.idleMs ?? 1000;
    this.releaseAfter = options.releaseAfterBytes ?? 64 * 1024 * 1024;
  }

  /** Set the collector and the trim once they are known (the process-wide reclaimer starts without). */
  use(tools: { collect?: CollectGarbage; trim?: () => void }): void {
    if (tools.collect) this.collect = tools.collect;
    if (tools.trim) this.trim = tools.trim;
  }

  /** What an idle release can do in this process. */
  get capabilities(): { youngCollections: boolean; trim: boolean } {
    return { youngCollections: this.collect !== undefined, trim: this.trim !== undefined };
  }

  /** Run `hook` on every idle release, before the collection; returns how to remove it. */
  onIdle(hook: () => void): () => void {
    this.idleHooks.add(hook);
    return () => this.idleHooks.delete(hook);
  }

  requestStarted(): void {
    this.active(REQUEST_WEIGHT);
  }

  /** `bytes` of a request body arrived. */
  received(bytes: number): void {
    this.receivedSinceYoung += bytes;
    if (this.receivedSinceYoung >= this.youngEvery) {
      this.receivedSinceYoung %= this.youngEvery;
      if (this.collect) {
        this.collect({ type: 'minor' });
        this.counts.youngCollections++;
      }
    }
    this.active(bytes);
  }

  /** Cancel a pending idle check (a registry stopping). */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private active(weight: number): void {
    this.trafficSinceRelease += weight;
    this.lastActivity = Date.now();
    if (!this.timer) this.arm(this.idleMs);
  }

  private arm(ms: number): void {
    this.timer = setTimeout(this.checkIdle, ms);
    // Never what keeps the process alive.
    this.timer.unref();
  }

  private readonly checkIdle = (): void => {
    this.timer = undefined;
    const quiet = Date.now() - this.lastActivity;
    if (quiet < this.idleMs) {
      this.arm(this.idleMs - quiet);
      return;
    }
    if (this.trafficSinceRelease < this.releaseAfter) return;
    this.trafficSinceRelease = 0;
    this.release();
  };

  private release(): void {
    for (const hook of this.idleHooks) hook();
    this.collect?.({ type: 'major' });
    this.trim?.();
    this.counts.releases++;
  }
}

/** The process's reclaimer: collections and trims act on the whole process. */
export const processMemory = new MemoryReclaimer();

/**
 * The `IncomingMessage` class for the registry's HTTP server (`createServer`'s option of that
 * name): every request and every piece of body the parser pushes is reported to `reclaimer`,
 * without reading the body or adding a stream in its way.
 */
export function reportingIncomingMessage(reclaimer: MemoryReclaimer): typeof IncomingMessage {
  return class ReportingIncomingMessage extends IncomingMessage {
    constructor(socket: Socket) {
      super(socket);
      reclaimer.requestStarted();
    }

    override push(chunk: unknown, encoding?: BufferEncoding): boolean {
      if (chunk !== null && chunk !== undefined) reclaimer.received((chunk as Buffer).length);
      return super.push(chunk, encoding);
    }
  };
}

let mallocTrimLoaded: Promise<(() => void) | undefined> | undefined;

/**
 * glibc's `malloc_trim(0)` through koffi (FFI), loaded once per process; undefined where there
 * is no glibc or koffi cannot load.
 */
export function loadMallocTrim(): Promise<(() => void) | undefined> {
  mallocTrimLoaded ??= bindMallocTrim();
  return mallocTrimLoaded;
}

async function bindMallocTrim(): Promise<(() => void) | undefined> {
  if (process.platform !== 'linux') return undefined;
  try {
    const { default: koffi } = await import('koffi');
    const mallocTrim = koffi.load('libc.so.6').func('int malloc_trim(size_t pad)') as (pad: number) => number;
    return () => void mallocTrim(0);
  } catch {
    // musl (no libc.so.6, no malloc_trim), or no prebuilt koffi for this platform.
    return undefined;
  }
}

/** The collector when the process runs with `--expose-gc`. */
export function exposedCollector(): CollectGarbage | undefined {
  const gc = (globalThis as { gc?: unknown }).gc;
  return typeof gc === 'function' ? (gc as CollectGarbage) : undefined;
}
