/**
 * The filesystem driver's page-cache window: the large objects written or read lately, up to a
 * byte budget, are written and read through the kernel's page cache; the others move past it
 * (direct I/O, direct-io.ts).
 *
 * Why both: a blob is often pulled soon after its push (CI pushes, then deploys), and from the
 * page cache that pull runs at memory speed; from the disk it runs at the disk's speed (about
 * 1.0-1.7 GB/s on the build machine, below what Distribution serves from its page cache). But
 * the page cache must not grow without bound: on a VM that hands freed memory back to its host
 * (virtio-balloon free page reporting, as on the build machine), every page the cache takes
 * for the first time costs a host fault, about 50 ms of CPU per 16 MiB, more than the rest of
 * the push. Inside the budget the cache reuses the pages of the objects it dropped, which are
 * still backed; beyond it, objects are dropped from the cache (posix_fadvise DONTNEED), least
 * recently used first. The budget also bounds what Berth holds in a container's page cache,
 * which counts against its memory limit (reclaimable, but not free).
 *
 * The writes themselves are direct-io.ts's DirectFileWriter with a CachedRange: the same
 * staging slots, written through the page cache below `maxObjectBytes` (a quarter of the
 * budget) and past it above, the writeback of each slot started as soon as it is written
 * (sync_file_range), so that the fsync that closes the object finds little left to write;
 * without it a 16 MiB push waited for its whole writeback at the end. (Writing each socket
 * chunk as it came cost a thread-pool round trip per 64 KiB; holding chunks for one writev per
 * MiB kept more socket buffers alive and cost more: docs/benchmarks.md.)
 * Uploads in progress are written the same way and join the window when they are moved into
 * place; until then they are outside its budget (an abandoned upload's pages go when its
 * session is removed, or when the kernel reclaims them).
 *
 * posix_fadvise and sync_file_range are reached through koffi (FFI), bound once per process;
 * where they cannot be (no glibc, no prebuilt koffi) there is no window and every large object
 * moves past the page cache.
 */
import * as fs from 'node:fs/promises';
import { LruCache } from '../cache/lru.ts';
import type { CachedRange } from './direct-io.ts';

/** What the window asks of the kernel, on open descriptors, off the event loop. */
export interface PageCacheControl {
  /** Start writing [offset, offset + length) back to the disk; resolves once started. */
  startWriteback(fd: number, offset: number, length: number): Promise<void>;
  /** Drop the file's clean pages from the page cache. */
  drop(fd: number): Promise<void>;
}

const POSIX_FADV_DONTNEED = 4;
const SYNC_FILE_RANGE_WRITE = 2;

let controlLoaded: Promise<PageCacheControl | undefined> | undefined;

/** The kernel calls through koffi, bound once per process; undefined off Linux or where they cannot be bound. */
export function loadPageCacheControl(): Promise<PageCacheControl | undefined> {
  controlLoaded ??= bindControl();
  return controlLoaded;
}

type AsyncForeignFunction = { async: (...args: unknown[]) => void };

async function bindControl(): Promise<PageCacheControl | undefined> {
  if (process.platform !== 'linux') return undefined;
  try {
    const { default: koffi } = await import('koffi');
    const libc = koffi.load('libc.so.6');
    const fadvise = libc.func('int posix_fadvise(int fd, int64_t offset, int64_t len, int advice)') as unknown as AsyncForeignFunction;
    const syncFileRange = libc.func('int sync_file_range(int fd, int64_t offset, int64_t nbytes, unsigned int flags)') as unknown as AsyncForeignFunction;
    // posix_fadvise returns the error number; sync_file_range returns -1 (errno is not kept).
    const call = (fn: AsyncForeignFunction, name: string, ...args: number[]) =>
      new Promise<void>((resolve, reject) =>
        fn.async(...args, (err: Error | null, result: number) => {
          if (err) reject(err);
          else if (result !== 0) reject(new Error(`${name} failed (${result})`));
          else resolve();
        }),
      );
    return {
      startWriteback: (fd, offset, length) => call(syncFileRange, 'sync_file_range', fd, offset, length, SYNC_FILE_RANGE_WRITE),
      drop: (fd) => call(fadvise, 'posix_fadvise', fd, 0, 0, POSIX_FADV_DONTNEED),
    };
  } catch {
    // musl (no libc.so.6), or no prebuilt koffi for this platform.
    return undefined;
  }
}

export interface PageCacheWindowOptions {
  /** The budget: bytes of large objects kept in the page cache. */
  maxBytes: number;
  control: PageCacheControl;
}

/**
 * Which large files (by absolute path) are kept in the page cache, least recently used first.
 * Dropping files from the cache runs in the background, one at a time, in order; a failure (a
 * file deleted or renamed meanwhile) is ignored: its pages went with it, or the kernel reclaims
 * them in time.
 */
export class PageCacheWindow {
  /** Objects are written through the cache up to about this offset, past it beyond (a quarter of the budget, whole MiB). */
  readonly maxObjectBytes: number;
  /** What a DirectFileWriter writes through the cache: everything below maxObjectBytes. */
  readonly cachedRange: CachedRange;
  private readonly control: PageCacheControl;
  /** File sizes by path; what it evicts is dropped from the page cache. */
  private readonly files: LruCache<number>;
  private dropping: Promise<void> = Promise.resolve();

  constructor(options: PageCacheWindowOptions) {
    if (!(options.maxBytes > 0)) throw new RangeError('the page-cache window needs a budget above 0');
    this.maxObjectBytes = Math.floor(options.maxBytes / 4 / 1048576) * 1048576;
    this.cachedRange = { below: this.maxObjectBytes, startWriteback: options.control.startWriteback };
    this.control = options.control;
    this.files = new LruCache<number>({ maxBytes: options.maxBytes, sizeOf: (size) => size, onEvict: (file) => this.drop(file) });
  }

  /** Whether `file` is kept; it is then the most recently used. */
  use(file: string): boolean {
    return this.files.get(file) !== undefined;
  }

  /**
   * Keep `file` (`size` bytes, now in the page cache) as the most recently used, and drop the
   * least recently used beyond the budget. A file larger than maxObjectBytes is dropped at once.
   */
  keep(file: string, size: number): void {
    if (size > this.maxObjectBytes) {
      this.files.delete(file);
      this.drop(file);
    } else {
      this.files.set(file, size);
    }
  }

  /** `file` is gone: its pages went with it. */
  forget(file: string): void {
    this.files.delete(file);
  }

  /** Bytes of the files kept. */
  get keptBytes(): number {
    return this.files.bytes;
  }

  /** Resolves once the drops asked for so far are done. */
  settled(): Promise<void> {
    return this.dropping;
  }

  private drop(file: string): void {
    this.dropping = this.dropping.then(async () => {
      let handle: fs.FileHandle | undefined;
      try {
        handle = await fs.open(file, 'r');
        await this.control.drop(handle.fd);
      } catch {
        // gone or moved: see the class comment
      } finally {
        await handle?.close().catch(() => undefined);
      }
    });
  }
}
