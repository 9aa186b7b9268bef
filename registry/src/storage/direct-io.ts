/**
 * Direct I/O (O_DIRECT) for the filesystem driver: large blobs move between the registry and
 * the disk without passing through the kernel's page cache, as MinIO writes object data.
 *
 * Why: a blob is written once and most blobs are not read again soon; copying it into the page
 * cache costs a kernel copy per byte plus the allocation of cache pages, and pushes out what is
 * hot. Measured on the build machine (2 vCPU VM, ext4 on virtio, `npm run bench`'s 4 × 16 MiB
 * pushes at a time): buffered writes with fsync took 110-740 ms of CPU per 256 MiB, mostly the
 * kernel's page-cache copy (`copy_folio_from_iter_atomic`), direct writes ~60 ms; reading a
 * blob that is not cached through the page cache cost ~560 ms of CPU per 256 MiB, directly
 * ~30 ms (docs/benchmarks.md).
 *
 * O_DIRECT needs the memory address, the file offset and the length of every transfer aligned
 * to the device's block size. Node's Buffers are not aligned, but a WebAssembly.Memory's
 * backing store is (page-aligned). Writes stage through slots of one such memory, shared by
 * the process (`AlignedSlots`), lent and given back within one write. Reads go straight into
 * buffers that are each a small memory of their own (`alignedBuffer`), because a read's buffer
 * becomes the HTTP response's chunk: it must be free to outlive the read, and to be dropped by
 * whoever holds it last. Transfers are aligned to 4096 bytes, which covers devices
 * with 512-byte and 4 KiB blocks. What cannot be aligned (the last partial block of a file)
 * goes through an ordinary descriptor of the same file; the kernel keeps the two coherent.
 *
 * Objects smaller than one slot are written and read through the page cache as before: small
 * files (configs, upload state) are cheap to cache and read often.
 */
import { constants as fsConstants } from 'node:fs';
import * as fs from 'node:fs/promises';
import { Writable } from 'node:stream';

/** Alignment of every direct transfer: address, file offset and length. */
export const DIRECT_ALIGNMENT = 4096;
/** Size of one staging slot; objects smaller than this stay in the page cache. */
export const SLOT_SIZE = 1024 * 1024;
/** Slots in the process (12 MiB of address space; resident only once used): two per write in flight. */
const SLOT_COUNT = 12;
const WASM_PAGE_SIZE = 65536;

export const O_DIRECT: number | undefined = (fsConstants as Record<string, number | undefined>).O_DIRECT;

export function alignDown(n: number): number {
  return n - (n % DIRECT_ALIGNMENT);
}

/**
 * The process's aligned staging buffers: slots of one WebAssembly.Memory (never grown, so its
 * ArrayBuffer stays valid). A slot is only ever lent to code in this module and the filesystem
 * driver, which give it back when the transfer using it has completed. Slots of a memory that
 * was let go (releaseIfUnused) are never given back: none is lent then.
 */
class AlignedSlots {
  private readonly free: Buffer[] = [];
  private created = false;

  take(): Buffer | undefined {
    if (!this.created) {
      this.created = true;
      const pages = (SLOT_COUNT * SLOT_SIZE) / WASM_PAGE_SIZE;
      const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
      for (let i = SLOT_COUNT - 1; i >= 0; i--) this.free.push(Buffer.from(memory.buffer, i * SLOT_SIZE, SLOT_SIZE));
    }
    return this.free.pop();
  }

  give(slot: Buffer): void {
    this.free.push(slot);
  }

  /**
   * Let the memory go when no slot is lent (the registry is idle): the pages a burst touched
   * stay resident otherwise. The next `take` makes a new memory, resident only as it is used.
   */
  releaseIfUnused(): void {
    if (this.created && this.free.length === SLOT_COUNT) {
      this.free.length = 0;
      this.created = false;
    }
  }
}

export const alignedSlots = new AlignedSlots();

/** Open `file` with O_DIRECT added to `flags`; undefined when the filesystem refuses it (tmpfs, some overlays). */
export async function openDirect(file: string, flags: number, mode?: number): Promise<fs.FileHandle | undefined> {
  if (O_DIRECT === undefined) return undefined;
  try {
    return await fs.open(file, flags | O_DIRECT, mode);
  } catch (err) {
    if ((err as { code?: string }).code === 'EINVAL') return undefined;
    throw err;
  }
}

async function writeAll(handle: fs.FileHandle, buffer: Buffer, length: number, position: number): Promise<void> {
  for (let done = 0; done < length; ) {
    done += (await handle.write(buffer, done, length - done, position + done)).bytesWritten;
  }
}

/** Read `length` bytes at `position` into the start of `buffer` (through the page cache); fewer only at the end of the file. */
export async function readFully(handle: fs.FileHandle, buffer: Buffer, length: number, position: number): Promise<number> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

/**
 * The part of a file a DirectFileWriter writes through the page cache instead (the filesystem
 * driver's page-cache window, page-cache.ts): the slots that start below `below`, each one's
 * writeback started as soon as it is written.
 */
export interface CachedRange {
  below: number;
  startWriteback(fd: number, offset: number, length: number): Promise<void>;
}

/**
 * Writes a stream into a file from `start` on: whole aligned slots through `direct` (two slots,
 * one filling while the other is written), the last partial block through `buffered`, then
 * fsync. Slots within `cached` go through `buffered` instead, and their writeback is started at
 * once, so the fsync finds little left to write. An object that ends within its first slot is
 * written through `buffered` only. When `start` is not aligned, the bytes of its block before
 * `start` are read back first so that the block can be written whole. Closes neither handle;
 * gives its slots back, and ends, only once no write or writeback uses them or the file any
 * more. `bytesWritten` counts the bytes from the stream.
 */
export class DirectFileWriter extends Writable {
  bytesWritten = 0;
  /** Of those, the bytes that went to the disk past the page cache. */
  bytesDirect = 0;
  private readonly slots: [Buffer, Buffer];
  private current = 0;
  private fill = 0;
  /** File position of the current slot's first byte (aligned). */
  private slotStart: number;
  private wroteDirect = false;
  private pending: Promise<void> = Promise.resolve();
  private readonly ready: Promise<void>;
  /** The _write (or _final) in progress. */
  private taking: Promise<void> = Promise.resolve();
  /** Writebacks started (CachedRange) and not yet known to be under way. */
  private readonly writebacks = new Set<Promise<void>>();

  /** Undefined when no two slots are free (the caller writes through the page cache instead). */
  static create(direct: fs.FileHandle, buffered: fs.FileHandle, start: number, cached?: CachedRange): DirectFileWriter | undefined {
    const first = alignedSlots.take();
    if (!first) return undefined;
    const second = alignedSlots.take();
    if (!second) {
      alignedSlots.give(first);
      return undefined;
    }
    return new DirectFileWriter(direct, buffered, start, [first, second], cached);
  }

  private constructor(
    private readonly direct: fs.FileHandle,
    private readonly buffered: fs.FileHandle,
    start: number,
    slots: [Buffer, Buffer],
    private readonly cached: CachedRange | undefined,
  ) {
    super({ highWaterMark: SLOT_SIZE });
    this.slots = slots;
    this.slotStart = alignDown(start);
    const head = start - this.slotStart;
    this.fill = head;
    this.ready =
      head === 0
        ? Promise.resolve()
        : readFully(this.buffered, this.slots[0], head, this.slotStart).then((read) => {
            if (read !== head) throw new Error(`file is shorter than the append offset ${start}`);
          });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.taking = this.take(chunk);
    this.taking.then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.taking = this.finish();
    this.taking.then(() => callback(), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // A slot may still be under a write (or about to be: Writable calls _destroy without
    // waiting for the _write in progress): give them back only once all that has completed.
    this.taking
      .catch(() => undefined)
      .then(() => this.ready.catch(() => undefined))
      .then(() => this.pending.catch(() => undefined))
      .then(() => Promise.all([...this.writebacks]))
      .then(() => {
        for (const slot of this.slots) alignedSlots.give(slot);
        callback(error);
      });
  }

  private async take(chunk: Buffer): Promise<void> {
    await this.ready;
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(SLOT_SIZE - this.fill, chunk.length - offset);
      chunk.copy(this.slots[this.current]!, this.fill, offset, offset + n);
      this.fill += n;
      offset += n;
      if (this.fill === SLOT_SIZE) await this.writeSlot();
    }
    this.bytesWritten += chunk.length;
  }

  /** Start writing the full current slot; continue filling the other once its write is done. */
  private async writeSlot(): Promise<void> {
    await this.pending;
    const slot = this.slots[this.current]!;
    const start = this.slotStart;
    if (this.isCached(start)) {
      this.pending = writeAll(this.buffered, slot, SLOT_SIZE, start).then(() => this.startWriteback(start, SLOT_SIZE));
    } else {
      this.pending = writeAll(this.direct, slot, SLOT_SIZE, start);
      this.wroteDirect = true;
      this.bytesDirect += SLOT_SIZE;
    }
    this.slotStart += SLOT_SIZE;
    this.current ^= 1;
    this.fill = 0;
  }

  private async finish(): Promise<void> {
    await this.ready;
    await this.pending;
    const slot = this.slots[this.current]!;
    if (!this.wroteDirect || this.isCached(this.slotStart)) {
      // Small, or within the cached range: through the page cache.
      await writeAll(this.buffered, slot, this.fill, this.slotStart);
    } else {
      const aligned = alignDown(this.fill);
      if (aligned > 0) await writeAll(this.direct, slot, aligned, this.slotStart);
      this.bytesDirect += aligned;
      if (this.fill > aligned) await writeAll(this.buffered, slot.subarray(aligned), this.fill - aligned, this.slotStart + aligned);
    }
    await Promise.all([...this.writebacks]);
    // fsync works on the file, whichever descriptor wrote what.
    await this.buffered.sync();
  }

  private isCached(position: number): boolean {
    return this.cached !== undefined && position < this.cached.below;
  }

  /** Starts writing [offset, offset + length) back; the closing fsync reports what failed to reach the disk. */
  private startWriteback(offset: number, length: number): void {
    const started: Promise<void> = this.cached!.startWriteback(this.buffered.fd, offset, length)
      .catch(() => undefined)
      .finally(() => this.writebacks.delete(started));
    this.writebacks.add(started);
  }
}

/** The ArrayBuffers `alignedBuffer` made: only these may take direct reads. */
const alignedMemories = new WeakSet<ArrayBufferLike>();

/**
 * A page-aligned buffer of `size` bytes (a multiple of 64 KiB): a WebAssembly.Memory of its
 * own, so it is freed by the garbage collector like any buffer, and a direct read can go
 * straight into it (no staging slot, no copy). Used for reads, where the buffer travels on
 * to the HTTP response and may be dropped anywhere along the way.
 */
export function alignedBuffer(size: number): Buffer {
  if (size <= 0 || size % WASM_PAGE_SIZE !== 0) throw new RangeError(`aligned buffers are whole 64 KiB pages, not ${size} bytes`);
  const pages = size / WASM_PAGE_SIZE;
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  alignedMemories.add(memory.buffer);
  return Buffer.from(memory.buffer, 0, size);
}

/** Whether `chunk` lies in a buffer `alignedBuffer` made. */
export function isInAlignedBuffer(chunk: Buffer): boolean {
  return alignedMemories.has(chunk.buffer);
}

/**
 * Read up to `length` bytes at `position` with direct I/O into `target` (from `alignedBuffer`,
 * starting at its first byte): the read starts at the block `position` is in, so the bytes
 * asked for begin `position % DIRECT_ALIGNMENT` into `target`, which must hold them rounded
 * up to whole blocks. Returns where they begin and how many arrived (fewer only at the end of
 * the file).
 */
export async function readDirectInto(direct: fs.FileHandle, target: Buffer, length: number, position: number): Promise<{ offset: number; bytes: number }> {
  if (!isInAlignedBuffer(target) || target.byteOffset !== 0) throw new Error('direct reads need a buffer from alignedBuffer()');
  const start = alignDown(position);
  const skip = position - start;
  const span = alignUp(skip + length);
  if (span > target.length) throw new RangeError(`a direct read of ${span} bytes does not fit a ${target.length}-byte buffer`);
  // A direct read returns whole blocks until the end of the file; a short one ends it.
  let read = 0;
  while (read < span && read % DIRECT_ALIGNMENT === 0) {
    const { bytesRead } = await direct.read(target, read, span - read, start + read);
    if (bytesRead === 0) break;
    read += bytesRead;
  }
  return { offset: skip, bytes: Math.max(0, Math.min(length, read - skip)) };
}

function alignUp(n: number): number {
  return alignDown(n + DIRECT_ALIGNMENT - 1);
}
