import { mkdtemp, readdir, rm, stat, utimes, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { FilesystemDriver, type FilesystemDriverOptions } from '../../src/storage/filesystem.ts';
import { isRecycling } from '../../src/storage/driver.ts';
import { alignedBuffer, isInAlignedBuffer, openDirect, readDirectInto } from '../../src/storage/direct-io.ts';
import { constants as fsConstants } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { describeDriverSuite, readAll as readAllStream } from './driver-suite.ts';
import { execFileSync } from 'node:child_process';

/** Bytes of `file` in the page cache, from util-linux's fincore (mincore(2) on the file). */
function cachedBytes(file: string): number {
  try {
    return Number(execFileSync('fincore', ['--bytes', '--noheadings', '--raw', '--output', 'RES', file]).toString().trim());
  } catch (err) {
    throw new Error(`fincore failed (is util-linux installed? apt-get install util-linux): ${(err as Error).message}`);
  }
}

const MiB = 1024 * 1024;

async function tempRoot(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'berth-fs-driver-'));
}

// The ways the driver moves bytes of large objects: direct I/O with a page-cache window (the
// default; 8 MiB here, so objects over 2 MiB are split between the cache and direct writes and
// the window drops objects all the time), direct I/O alone, and the page cache alone.
const variants: Array<[string, Omit<FilesystemDriverOptions, 'rootDirectory'>]> = [
  ['direct I/O and an 8 MiB page-cache window', { pageCacheBytes: 8 * MiB }],
  ['direct I/O, no page-cache window', { pageCacheBytes: 0 }],
  ['page cache only', { directIO: false }],
];
for (const [name, options] of variants) {
  describeDriverSuite(
    `filesystem (${name})`,
    async () => {
      const rootDirectory = await tempRoot();
      return {
        driver: new FilesystemDriver({ rootDirectory, ...options }),
        cleanup: () => rm(rootDirectory, { recursive: true, force: true }),
      };
    },
    { appends: true },
  );
}

describe('FilesystemDriver specifics', function () {
  let root: string;
  beforeEach(async function () {
    root = await tempRoot();
  });
  afterEach(async function () {
    await rm(root, { recursive: true, force: true });
  });

  it('moves large objects past the page cache (direct I/O) and small or hot ones through it; never with directIO off', async function () {
    const direct = new FilesystemDriver({ rootDirectory: root, pageCacheBytes: 0 });
    const large = randomBytes(3 * 1024 * 1024 + 100);
    await direct.put('l/large', Readable.from([large.subarray(0, 5000), large.subarray(5000)]));
    await direct.put('l/small', Readable.from([randomBytes(200_000)]));
    assert.equal((await readAllStream(await direct.read('l/large'))).equals(large), true);
    await readAllStream(await direct.read('l/small'));
    // All but the last partial block of the large object went direct, both ways; nothing of the small one.
    const expected = large.length - (large.length % 4096);
    assert.deepEqual(direct.directBytes, { written: expected, read: large.length }, `direct I/O not used: does ${root}'s filesystem take O_DIRECT?`);
    // Read again soon after, the object is hot: through the page cache, which keeps it.
    assert.equal((await readAllStream(await direct.read('l/large', { offset: 10 }))).equals(large.subarray(10)), true);
    assert.equal(direct.directBytes.read, large.length);

    const buffered = new FilesystemDriver({ rootDirectory: root, directIO: false });
    await buffered.put('l/large2', Readable.from([large]));
    assert.equal((await readAllStream(await buffered.read('l/large2'))).equals(large), true);
    assert.deepEqual(buffered.directBytes, { written: 0, read: 0 });
  });

  it('reads ranges at any offset right with direct I/O (each the first read of its object)', async function () {
    const size = 3 * 1024 * 1024 + 4097;
    const body = randomBytes(size);
    await new FilesystemDriver({ rootDirectory: root, pageCacheBytes: 0 }).put('r/large', Readable.from([body]));
    for (const [offset, end] of [[0, size - 1], [1, 4096], [4095, 1024 * 1024 + 4096], [1024 * 1024 - 3, size - 1], [size - 5000, size - 1], [2 * 1024 * 1024, 2 * 1024 * 1024]]) {
      const fresh = new FilesystemDriver({ rootDirectory: root });
      const got = await readAllStream(await fresh.read('r/large', { offset: offset!, end }));
      assert.equal(got.equals(body.subarray(offset, end! + 1)), true, `range ${offset}-${end}`);
      assert.equal(fresh.directBytes.read, end! - offset! + 1, `range ${offset}-${end} not read directly`);
    }
  });

  it('stores object "a/b" as the file <root>/a/b and leaves no temporary files', async function () {
    const driver = new FilesystemDriver({ rootDirectory: root });
    await driver.put('a/b', Buffer.from('content'));
    assert.equal((await stat(join(root, 'a', 'b'))).size, 7);
    assert.deepEqual(await readdir(join(root, '.tmp')), []);
    await driver.put('x/y', Buffer.from('1'));
    await driver.put('x/z', Buffer.from('2'));
    await driver.assemble('a/c', ['x/y', 'x/z']);
    assert.deepEqual(await readdir(join(root, '.tmp')), []);
  });

  it('leaves no temporary file when the body fails before the file is even open', async function () {
    const driver = new FilesystemDriver({ rootDirectory: root });
    await driver.put('warm/up', Buffer.from('x')); // .tmp exists, so the next put opens its file at once
    for (let i = 0; i < 20; i++) {
      const failing = new Readable({
        read() {
          this.destroy(new Error('client went away'));
        },
      });
      await assert.rejects(driver.put(`a/${i}`, failing));
      // Checked right when put rejects: nothing may be created after it.
      assert.deepEqual(await readdir(join(root, '.tmp')), []);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(await readdir(join(root, '.tmp')), []);
    assert.deepEqual(await driver.list('a'), []);
  });

  it('reads through recycled buffers: every byte right, whole and in ranges, with at most a few buffers', async function () {
    const driver = new FilesystemDriver({ rootDirectory: root });
    const data = randomBytes(5 * 1024 * 1024 + 12345);
    await driver.put('big/blob', data);
    for (const range of [undefined, { offset: 1, end: data.length - 2 }, { offset: 3 * 1024 * 1024 - 7, end: 3 * 1024 * 1024 + 7 }]) {
      const stream = await driver.read('big/blob', range);
      assert.ok(isRecycling(stream));
      const copies: Buffer[] = [];
      const seen = new Set<ArrayBufferLike>();
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        copies.push(Buffer.from(chunk));
        seen.add(chunk.buffer);
        // Handed back at once, as a response writer does when the socket has taken it.
        stream.recycle(chunk);
      }
      const start = range?.offset ?? 0;
      const end = range?.end ?? data.length - 1;
      assert.ok(Buffer.concat(copies).equals(data.subarray(start, end + 1)), `range ${start}-${end}`);
      assert.ok(seen.size <= 3, `${seen.size} distinct buffers`);
    }
  });

  it('releaseIdleMemory between and during transfers: every byte still right, direct I/O still used', async function () {
    const driver = new FilesystemDriver({ rootDirectory: root, pageCacheBytes: 0 });
    const data = randomBytes(6 * 1024 * 1024 + 777);
    await driver.put('idle/a', Readable.from([data]));
    driver.releaseIdleMemory();
    await driver.put('idle/b', Readable.from([data.subarray(0, 100_000), data.subarray(100_000)]));
    // Released while a read holds slots and buffers: the read goes on, later ones get fresh ones.
    const reading = await driver.read('idle/a');
    const chunks: Buffer[] = [];
    for await (const chunk of reading as AsyncIterable<Buffer>) {
      chunks.push(Buffer.from(chunk));
      if (chunks.length === 1) driver.releaseIdleMemory();
      if (isRecycling(reading)) reading.recycle(chunk);
    }
    assert.ok(Buffer.concat(chunks).equals(data));
    driver.releaseIdleMemory();
    assert.ok((await readAllStream(await driver.read('idle/b'))).equals(data));
    const aligned = data.length - (data.length % 4096);
    assert.deepEqual(driver.directBytes, { written: 2 * aligned, read: 2 * data.length }, 'direct I/O stopped after a release');
  });

  it('reads directly into the chunks it emits (page-aligned buffers, no staging copy); a consumer may keep or drop them', async function () {
    const driver = new FilesystemDriver({ rootDirectory: root, pageCacheBytes: 0 });
    const data = randomBytes(12 * 1024 * 1024 + 4099);
    await driver.put('zc/blob', data);
    const kept: Buffer[] = [];
    for await (const chunk of (await driver.read('zc/blob', { offset: 4095, end: data.length - 1 })) as AsyncIterable<Buffer>) {
      kept.push(chunk); // never recycled: the next reads must not reuse these
    }
    // Eight lent, then plain copies: a consumer that never recycles does not pile up aligned memories.
    assert.deepEqual(kept.map((chunk) => isInAlignedBuffer(chunk)), [...Array(8).fill(true), ...Array(kept.length - 8).fill(false)]);
    assert.equal(driver.directBytes.read, data.length - 4095);
    // A recycling consumer is lent every whole chunk (read again soon, the blob is hot: through
    // the page cache, where the short tail gets a plain buffer of its size).
    const recycled = await driver.read('zc/blob');
    assert.ok(isRecycling(recycled));
    const lent: boolean[] = [];
    for await (const chunk of recycled as AsyncIterable<Buffer>) {
      lent.push(isInAlignedBuffer(chunk));
      recycled.recycle(chunk);
    }
    assert.deepEqual(lent, [...Array(12).fill(true), false]);
    const again = new FilesystemDriver({ rootDirectory: root });
    const other = randomBytes(2 * 1024 * 1024);
    await again.put('zc/other', other);
    assert.ok((await readAllStream(await again.read('zc/other'))).equals(other));
    assert.ok(Buffer.concat(kept).equals(data.subarray(4095)), 'a kept chunk was overwritten');
  });

  it('takes direct reads only into buffers from alignedBuffer()', async function () {
    const driver = new FilesystemDriver({ rootDirectory: root });
    await driver.put('al/blob', randomBytes(2 * 1024 * 1024));
    const handle = await openDirect(join(root, 'al', 'blob'), fsConstants.O_RDONLY);
    assert.ok(handle, `${root}'s filesystem refuses O_DIRECT`);
    try {
      await assert.rejects(readDirectInto(handle, Buffer.alloc(1024 * 1024), 4096, 0), /alignedBuffer/);
      await assert.rejects(readDirectInto(handle, alignedBuffer(65536).subarray(4096), 4096, 0), /alignedBuffer/);
      await assert.rejects(readDirectInto(handle, alignedBuffer(65536), 65536, 1), RangeError);
      assert.throws(() => alignedBuffer(1000), RangeError);
      const target = alignedBuffer(65536);
      assert.deepEqual(await readDirectInto(handle, target, 100, 2 * 1024 * 1024 - 50), { offset: 4096 - 50, bytes: 50 });
    } finally {
      await handle.close();
    }
  });

  it('closes the file when a recycling read is destroyed half way', async function () {
    const driver = new FilesystemDriver({ rootDirectory: root });
    await driver.put('half/way', randomBytes(4 * 1024 * 1024));
    const stream = await driver.read('half/way');
    const closed = new Promise((resolve) => stream.once('close', resolve));
    stream.once('data', () => stream.destroy());
    stream.resume();
    await closed;
    await driver.delete('half/way');
    assert.deepEqual(await driver.list('half'), []);
  });

  it('removes directories left empty by deletes, up to the top-level one, which stays', async function () {
    const driver = new FilesystemDriver({ rootDirectory: root });
    await driver.put('blobs/sha256/ab/abcd/data', Buffer.from('x'));
    await driver.put('blobs/sha256/ab/abef/data', Buffer.from('y'));
    await driver.delete('blobs/sha256/ab/abcd/data');
    assert.deepEqual((await readdir(join(root, 'blobs', 'sha256', 'ab'))).sort(), ['abef']);
    await driver.delete('blobs/sha256/ab/abef/data');
    assert.deepEqual((await readdir(root)).sort(), ['.tmp', 'blobs']);
    assert.deepEqual(await readdir(join(root, 'blobs')), []);
    // The same through deletePrefix, as a finished upload session is removed.
    await driver.put('_uploads/s1/info', Buffer.from('{}'));
    await driver.put('_uploads/s1/data', Buffer.from('z'));
    await driver.deletePrefix('_uploads/s1');
    assert.deepEqual(await readdir(join(root, '_uploads')), []);
    assert.deepEqual(await driver.list(''), []);
  });

  it('removes the parents a deletePrefix left empty in the background, done once close resolves', async function () {
    const driver = new FilesystemDriver({ rootDirectory: root });
    await driver.put('top/a/b/c/1', Buffer.from('1'));
    await driver.put('top/a/b/c/d/2', Buffer.from('2'));
    await driver.deletePrefix('top/a/b/c');
    assert.deepEqual(await driver.list('top'), []);
    await driver.close();
    // Up to, not including, the top-level directory.
    assert.deepEqual(await readdir(join(root, 'top')), []);
    assert.deepEqual(await readdir(join(root, '.tmp')), []);
  });

  it('sweeps stale temporary files left by a crash, and keeps fresh ones', async function () {
    await mkdir(join(root, '.tmp'));
    const stale = join(root, '.tmp', 'stale');
    const fresh = join(root, '.tmp', 'fresh');
    await writeFile(stale, 'partial');
    await writeFile(fresh, 'in progress elsewhere');
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    await utimes(stale, twoHoursAgo, twoHoursAgo);
    const driver = new FilesystemDriver({ rootDirectory: root });
    await driver.put('a', Buffer.from('1'));
    assert.deepEqual(await readdir(join(root, '.tmp')), ['fresh']);
    assert.deepEqual((await driver.list('')).map((o) => o.path), ['a']);
  });

  describe('the page-cache window', function () {
    // 8 MiB budget: objects up to 2 MiB are written through the page cache whole.
    const pageCacheBytes = 8 * MiB;

    it('writes and reads the objects stored lately through the page cache, and drops the least recently used beyond the budget', async function () {
      const driver = new FilesystemDriver({ rootDirectory: root, pageCacheBytes });
      const bodies = Array.from({ length: 5 }, () => randomBytes(2 * MiB));
      for (let i = 0; i < 3; i++) await driver.put(`w/${i}`, Readable.from([bodies[i]!]));
      assert.equal(await driver.pageCacheWindowBytes(), 6 * MiB, 'the page-cache window is not kept: could koffi not bind posix_fadvise?');
      for (let i = 0; i < 3; i++) assert.ok((await readAllStream(await driver.read(`w/${i}`))).equals(bodies[i]!));
      assert.deepEqual(driver.directBytes, { written: 0, read: 0 });
      // w/0 was read last of those three but one: w/1 is now the least recently used.
      assert.ok((await readAllStream(await driver.read('w/0'))).equals(bodies[0]!));
      for (let i = 3; i < 5; i++) await driver.put(`w/${i}`, Readable.from([bodies[i]!]));
      assert.equal(await driver.pageCacheWindowBytes(), 8 * MiB);
      await driver.close(); // the drops are done
      assert.equal(cachedBytes(join(root, 'w', '1')), 0, 'w/1 left the window but not the page cache');
      assert.equal(cachedBytes(join(root, 'w', '0')), 2 * MiB, 'w/0 was used lately but is not in the page cache');
      // Out of the window, w/1 is read from the disk again, past the page cache.
      assert.ok((await readAllStream(await driver.read('w/1'))).equals(bodies[1]!));
      assert.equal(driver.directBytes.read, 2 * MiB);
      // Deleted, an object leaves the window.
      await driver.delete('w/0');
      assert.equal(await driver.pageCacheWindowBytes(), 6 * MiB);
    });

    it('writes an object through the page cache up to a quarter of the budget and the rest past it, and keeps no part of it', async function () {
      const driver = new FilesystemDriver({ rootDirectory: root, pageCacheBytes });
      const body = randomBytes(5 * MiB + 123);
      await driver.put('big/one', Readable.from([body.subarray(0, 3000), body.subarray(3000, 2 * MiB + 5), body.subarray(2 * MiB + 5)]));
      const pastCache = 3 * MiB + 123 - ((3 * MiB + 123) % 4096); // all but the last partial block
      assert.equal(driver.directBytes.written, pastCache);
      assert.equal(await driver.pageCacheWindowBytes(), 0);
      await driver.close();
      assert.equal(cachedBytes(join(root, 'big', 'one')), 0, 'the cached part of an object over the limit stayed in the page cache');
      assert.ok((await readAllStream(await driver.read('big/one'))).equals(body));
      assert.equal(driver.directBytes.read, body.length);
      // Hot, it is still read past the page cache, and stays out of it and of the window.
      assert.ok((await readAllStream(await driver.read('big/one', { offset: 7 }))).equals(body.subarray(7)));
      assert.equal(driver.directBytes.read, 2 * body.length - 7);
      await driver.close();
      assert.equal(cachedBytes(join(root, 'big', 'one')), 0);
      assert.equal(await driver.pageCacheWindowBytes(), 0);
    });

    it('appends across the limit, then keeps the assembled object by its new name', async function () {
      const driver = new FilesystemDriver({ rootDirectory: root, pageCacheBytes: 16 * MiB }); // limit 4 MiB
      const body = randomBytes(4 * MiB);
      assert.equal(await driver.append('_uploads/u/data', 0, Readable.from([body.subarray(0, 1_500_000)])), 1_500_000);
      assert.equal(await driver.append('_uploads/u/data', 1_500_000, Readable.from([body.subarray(1_500_000)])), body.length);
      assert.equal(driver.directBytes.written, 0);
      await driver.assemble('blobs/b/data', ['_uploads/u/data']);
      assert.equal(await driver.pageCacheWindowBytes(), 4 * MiB);
      assert.ok((await readAllStream(await driver.read('blobs/b/data'))).equals(body));
      assert.equal(driver.directBytes.read, 0);
      // One more MiB crosses the 4 MiB limit: past the cache from there, and the object is not kept.
      const more = randomBytes(MiB);
      await driver.append('_uploads/v/data', 0, Readable.from([body]));
      await driver.append('_uploads/v/data', body.length, Readable.from([more]));
      assert.equal(driver.directBytes.written, MiB);
      await driver.assemble('blobs/c/data', ['_uploads/v/data']);
      assert.equal(await driver.pageCacheWindowBytes(), 4 * MiB);
      assert.ok((await readAllStream(await driver.read('blobs/c/data'))).equals(Buffer.concat([body, more])));
    });
  });

  it('refuses an empty root directory', function () {
    assert.throws(() => new FilesystemDriver({ rootDirectory: '' }), /rootDirectory/);
  });
});
