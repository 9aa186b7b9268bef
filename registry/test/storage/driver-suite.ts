/**
 * The conformance suite every BlobStorageDriver passes (filesystem.test.ts, s3.test.ts).
 *
 * Each test gets a fresh, empty driver and must delete what it stores: as in Distribution's
 * driver suite, a passing test that leaves objects behind fails in the afterEach hook.
 */
import { createHash, randomBytes, randomFillSync } from 'node:crypto';
import { Readable } from 'node:stream';
import assert from 'node:assert/strict';
import {
  InvalidOffsetError,
  InvalidPathError,
  PathNotFoundError,
  canAppend,
  type AppendingDriver,
  type BlobStorageDriver,
} from '../../src/storage/driver.ts';

export interface DriverUnderTest {
  driver: BlobStorageDriver;
  /** Remove everything the test run created (called after the leftover check). */
  cleanup(): Promise<void>;
}

export interface DriverSuiteOptions {
  /** Size of the large streamed object; default 128 MiB. */
  largeObjectSize?: number;
  /** Largest allowed growth of the process RSS while streaming it in and out; default half its size. */
  maxRssGrowth?: number;
  /** Bytes a failing upload sends before its stream errors, large enough to start a multipart upload. */
  failAfterBytes?: number;
  /** Whether the driver appends in place (AppendingDriver): checked, and its cases run when true. */
  appends: boolean;
}

const MiB = 1024 * 1024;

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function sha256Of(stream: Readable): Promise<{ digest: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { digest: hash.digest('hex'), size };
}

/** Random bytes generated on the fly in 1 MiB chunks, hashed as they are produced. */
function generatedStream(size: number, chunkSize = MiB): { stream: Readable; digest: () => string } {
  const hash = createHash('sha256');
  let remaining = size;
  const stream = new Readable({
    highWaterMark: chunkSize,
    read() {
      if (remaining === 0) {
        this.push(null);
        return;
      }
      const chunk = randomFillSync(Buffer.allocUnsafe(Math.min(chunkSize, remaining)));
      remaining -= chunk.length;
      hash.update(chunk);
      this.push(chunk);
    },
  });
  return { stream, digest: () => hash.digest('hex') };
}

/** A stream that sends `bytes` random bytes and then errors. */
function failingStream(bytes: number): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= bytes) {
        this.destroy(new Error('client went away'));
        return;
      }
      const chunk = randomBytes(Math.min(MiB, bytes - sent));
      sent += chunk.length;
      this.push(chunk);
    },
  });
}

async function expectRejection<E extends Error>(
  promise: Promise<unknown>,
  type: abstract new (...args: never[]) => E,
): Promise<E> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof type, `expected a ${type.name}, got ${String(err)}`);
    return err as E;
  }
  assert.fail(`expected a ${type.name}`);
}

const VALID_PATHS = ['blobs/sha256/ab/abcdef0123/data', '_uploads/0b8e-4c1d/parts/0000000000000000', 'a', 'x:y/z_w-v.1'];
const INVALID_PATHS = [
  '',
  '/a',
  'a/',
  'a//b',
  '..',
  '.',
  '../a',
  'a/../b',
  'a/./b',
  '.hidden/a',
  'a/.tmp',
  'a\\b',
  'a b',
  'caf\u00e9',
  'a\u0000b',
  'a?b',
  'x'.repeat(600),
];

export function describeDriverSuite(
  name: string,
  makeDriver: () => Promise<DriverUnderTest>,
  options: DriverSuiteOptions,
): void {
  describe(`BlobStorageDriver conformance: ${name}`, function () {
    let subject: DriverUnderTest | undefined;
    let driver: BlobStorageDriver;

    beforeEach(async function () {
      subject = await makeDriver();
      driver = subject.driver;
    });

    afterEach(async function () {
      if (!subject) return;
      const current = subject;
      subject = undefined;
      try {
        const passed = this.currentTest?.state === 'passed';
        const left = await current.driver.list('');
        if (passed && left.length > 0) {
          assert.fail(`test left objects behind: ${left.map((o) => o.path).join(', ')}`);
        }
      } finally {
        await current.driver.close();
        await current.cleanup();
      }
    });

    describe('put, read, stat', function () {
      it('stores a Buffer and reads it back with its size and modification time', async function () {
        const before = Date.now();
        const body = Buffer.from('hello, berth');
        assert.equal(await driver.put('a/b/c', body), body.length);
        assert.equal((await readAll(await driver.read('a/b/c'))).equals(body), true);
        const info = await driver.stat('a/b/c');
        assert.equal(info?.path, 'a/b/c');
        assert.equal(info?.size, body.length);
        assert.ok(info?.modifiedAt instanceof Date);
        // Allow for clock skew between the test and an object store, and coarse timestamps.
        assert.ok(Math.abs(info!.modifiedAt.getTime() - before) < 60_000);
        await driver.delete('a/b/c');
      });

      it('stores a stream and resolves to the number of bytes written', async function () {
        const body = randomBytes(300_000);
        const written = await driver.put('s/one', Readable.from([body.subarray(0, 1000), body.subarray(1000)]));
        assert.equal(written, body.length);
        assert.equal((await readAll(await driver.read('s/one'))).equals(body), true);
        await driver.delete('s/one');
      });

      it('reports a missing object: read rejects with PathNotFoundError, stat is undefined', async function () {
        await expectRejection(driver.read('missing/object'), PathNotFoundError);
        assert.equal(await driver.stat('missing/object'), undefined);
      });

      it('does not treat a directory-like prefix as an object', async function () {
        await driver.put('dir/child', Buffer.from('x'));
        assert.equal(await driver.stat('dir'), undefined);
        await expectRejection(driver.read('dir'), PathNotFoundError);
        await driver.delete('dir'); // not an object: nothing happens
        assert.notEqual(await driver.stat('dir/child'), undefined);
        await driver.delete('dir/child');
      });

      it('overwrites an existing object', async function () {
        await driver.put('o/w', Buffer.from('first version, longer'));
        await driver.put('o/w', Readable.from([Buffer.from('second')]));
        assert.equal((await readAll(await driver.read('o/w'))).toString(), 'second');
        assert.equal((await driver.stat('o/w'))?.size, 6);
        assert.deepEqual((await driver.list('')).map((o) => o.path), ['o/w']);
        await driver.delete('o/w');
      });

      it('stores zero-length objects from a Buffer and from a stream', async function () {
        assert.equal(await driver.put('z/buffer', Buffer.alloc(0)), 0);
        assert.equal(await driver.put('z/stream', Readable.from([])), 0);
        for (const path of ['z/buffer', 'z/stream']) {
          assert.equal((await driver.stat(path))?.size, 0);
          assert.equal((await readAll(await driver.read(path))).length, 0);
          assert.equal((await readAll(await driver.read(path, { offset: 0 }))).length, 0);
          await expectRejection(driver.read(path, { offset: 1 }), InvalidOffsetError);
        }
        await driver.deletePrefix('z');
      });
    });

    describe('ranges', function () {
      const body = Buffer.from(Array.from({ length: 100 }, (_, i) => i));

      beforeEach(async function () {
        await driver.put('r/obj', body);
      });
      afterEach(async function () {
        await driver.delete('r/obj');
      });

      const cases: Array<[string, { offset: number; end?: number }, Buffer]> = [
        ['the start', { offset: 0, end: 9 }, body.subarray(0, 10)],
        ['the middle', { offset: 40, end: 59 }, body.subarray(40, 60)],
        ['one byte', { offset: 50, end: 50 }, body.subarray(50, 51)],
        ['an offset to the end', { offset: 90 }, body.subarray(90)],
        ['the last byte', { offset: 99 }, body.subarray(99)],
        ['an end past the last byte (clamped)', { offset: 95, end: 1000 }, body.subarray(95)],
        ['offset 0 without end (whole object)', { offset: 0 }, body],
        ['an offset equal to the size (empty)', { offset: 100 }, Buffer.alloc(0)],
      ];
      for (const [label, range, expected] of cases) {
        it(`reads ${label}`, async function () {
          const got = await readAll(await driver.read('r/obj', range));
          assert.deepEqual([...got], [...expected]);
        });
      }

      for (const range of [{ offset: 101 }, { offset: 1000, end: 2000 }, { offset: -1 }, { offset: 10, end: 5 }, { offset: 1.5 }]) {
        it(`rejects ${JSON.stringify(range)} with InvalidOffsetError`, async function () {
          await expectRejection(driver.read('r/obj', range), InvalidOffsetError);
        });
      }

      it('reports a missing object before looking at the range', async function () {
        await expectRejection(driver.read('r/missing', { offset: 5 }), PathNotFoundError);
      });
    });

    describe('objects around 1 MiB and block boundaries (where a driver may change how it moves bytes)', function () {
      // Sizes and ranges off the 4096-byte blocks and 1 MiB buffers a driver may align to.
      for (const size of [MiB - 1, MiB, MiB + 1, 3 * MiB + 4097]) {
        it(`stores ${size} bytes from a stream of uneven chunks and reads them whole and in ranges`, async function () {
          const body = randomBytes(size);
          const pieces: Buffer[] = [];
          for (let at = 0, step = 1; at < size; at += step, step = (step * 7 + 4093) % 300_000 + 1) pieces.push(body.subarray(at, at + step));
          assert.equal(await driver.put('b/obj', Readable.from(pieces)), size);
          assert.equal((await driver.stat('b/obj'))?.size, size);
          assert.equal((await readAll(await driver.read('b/obj'))).equals(body), true);
          for (const [offset, end] of [
            [1, 4096],
            [4095, MiB + 4096],
            [MiB - 3, size - 1],
            [size - 1, size - 1],
            [4096 * 3 + 17, undefined],
          ] as Array<[number, number | undefined]>) {
            const got = await readAll(await driver.read('b/obj', { offset, ...(end !== undefined ? { end } : {}) }));
            assert.equal(got.equals(body.subarray(offset, end === undefined ? undefined : end + 1)), true, `range ${offset}-${end ?? ''}`);
          }
          await driver.delete('b/obj');
        });
      }
    });

    describe('append (drivers that extend objects in place)', function () {
      it(`is ${options.appends ? '' : 'not '}offered by this driver`, function () {
        assert.equal(canAppend(driver), options.appends);
      });
      if (!options.appends) return;
      const appending = () => driver as AppendingDriver;

      it('creates the object on the first append and grows it, chunks of any size crossing block and buffer boundaries', async function () {
        const sizes = [1, 4095, 4097, MiB + 3, 2 * MiB - 7, 100, 0, 3 * MiB];
        const body = randomBytes(sizes.reduce((a, b) => a + b, 0));
        let offset = 0;
        for (const size of sizes) {
          const chunk = body.subarray(offset, offset + size);
          const pieces = [chunk.subarray(0, Math.floor(size / 3)), chunk.subarray(Math.floor(size / 3))];
          assert.equal(await appending().append('u/data', offset, Readable.from(pieces)), offset + size);
          offset += size;
          assert.equal((await driver.stat('u/data'))?.size, offset);
        }
        assert.equal((await readAll(await driver.read('u/data'))).equals(body), true);
        const got = await readAll(await driver.read('u/data', { offset: 4095, end: MiB + 9000 }));
        assert.equal(got.equals(body.subarray(4095, MiB + 9001)), true);
        await driver.delete('u/data');
      });

      it('refuses an append at any offset but the current size, writing nothing', async function () {
        await appending().append('u/data', 0, Readable.from([Buffer.from('abc')]));
        await expectRejection(appending().append('u/data', 2, Readable.from([Buffer.from('x')])), InvalidOffsetError);
        await expectRejection(appending().append('u/data', 4, Readable.from([Buffer.from('x')])), InvalidOffsetError);
        await expectRejection(appending().append('u/other', 3, Readable.from([Buffer.from('x')])), InvalidOffsetError);
        assert.equal((await readAll(await driver.read('u/data'))).toString(), 'abc');
        await driver.delete('u/data');
        await driver.delete('u/other');
      });

      for (const [label, offset, failAfter] of [
        ['a small object', 10, 1024],
        ['an unaligned offset, after more than 1 MiB', 4097, 3 * MiB + 5],
      ] as Array<[string, number, number]>) {
        it(`cuts the object back to its offset when the body fails (${label})`, async function () {
          const before = randomBytes(offset);
          await appending().append('u/data', 0, Readable.from([before]));
          await expectRejection(appending().append('u/data', offset, failingStream(failAfter)), Error);
          assert.equal((await driver.stat('u/data'))?.size, offset);
          assert.equal((await readAll(await driver.read('u/data'))).equals(before), true);
          // and the object takes the next append as if nothing had happened
          assert.equal(await appending().append('u/data', offset, Readable.from([Buffer.from('next')])), offset + 4);
          await driver.delete('u/data');
        });
      }

      it('truncates to a smaller size only', async function () {
        await appending().append('u/data', 0, Readable.from([Buffer.from('0123456789')]));
        await appending().truncate('u/data', 4);
        assert.equal((await readAll(await driver.read('u/data'))).toString(), '0123');
        await expectRejection(appending().truncate('u/data', 5), InvalidOffsetError);
        await expectRejection(appending().truncate('u/missing', 0), PathNotFoundError);
        await driver.delete('u/data');
      });

      it('moves an appended object into place with a single-source assemble', async function () {
        const body = randomBytes(MiB + 1234);
        await appending().append('u/data', 0, Readable.from([body.subarray(0, 5000)]));
        await appending().append('u/data', 5000, Readable.from([body.subarray(5000)]));
        await driver.assemble('blobs/x/data', ['u/data']);
        assert.equal(await driver.stat('u/data'), undefined);
        assert.equal((await readAll(await driver.read('blobs/x/data'))).equals(body), true);
        await driver.delete('blobs/x/data');
      });
    });

    describe('list', function () {
      it('lists every object below a prefix, recursively, sorted, with sizes', async function () {
        const paths = ['l/b/2', 'l/a', 'l/b/1/deep/x', 'l/bc', 'l/b/10', 'other/z'];
        await Promise.all(paths.map((p, i) => driver.put(p, Buffer.alloc(i + 1, 7))));
        const all = await driver.list('');
        assert.deepEqual(all.map((o) => o.path), [...paths].sort());
        for (const info of all) {
          assert.equal(info.size, paths.indexOf(info.path) + 1);
          assert.ok(info.modifiedAt instanceof Date);
        }
        assert.deepEqual((await driver.list('l')).map((o) => o.path), ['l/a', 'l/b/1/deep/x', 'l/b/10', 'l/b/2', 'l/bc']);
        // A prefix is a directory: "l/b" does not match "l/bc".
        assert.deepEqual((await driver.list('l/b')).map((o) => o.path), ['l/b/1/deep/x', 'l/b/10', 'l/b/2']);
        assert.deepEqual(await driver.list('l/missing'), []);
        assert.deepEqual(await driver.list('l/a'), []); // an object has nothing below it
        await driver.deletePrefix('l');
        await driver.deletePrefix('other');
      });

      it('is empty for an empty store', async function () {
        assert.deepEqual(await driver.list(''), []);
      });
    });

    describe('delete and deletePrefix', function () {
      it('deletes one object; deleting a missing object is not an error', async function () {
        await driver.put('d/one', Buffer.from('1'));
        await driver.put('d/two', Buffer.from('2'));
        await driver.delete('d/one');
        assert.equal(await driver.stat('d/one'), undefined);
        assert.notEqual(await driver.stat('d/two'), undefined);
        await driver.delete('d/one');
        await driver.delete('never/was');
        await driver.delete('d/two');
      });

      it('deletes everything below a prefix and nothing beside it', async function () {
        const keep = ['p/ab', 'p/b/a', 'q/a/b', 'e/x'];
        const remove = ['p/a/1', 'p/a/2/3', 'p/a/2/4'];
        await Promise.all([...keep, ...remove].map((p) => driver.put(p, Buffer.from(p))));
        await driver.deletePrefix('p/a');
        assert.deepEqual((await driver.list('')).map((o) => o.path), ['e/x', 'p/ab', 'p/b/a', 'q/a/b']);
        await driver.deletePrefix('p/a'); // again: nothing there, not an error
        await driver.deletePrefix('nothing/here');
        // An object at exactly the prefix is not below it.
        await driver.deletePrefix('e/x');
        assert.notEqual(await driver.stat('e/x'), undefined);
        await Promise.all(keep.map((p) => driver.delete(p)));
      });

      it('deletes more objects than one batch of a bulk delete', async function () {
        const paths = Array.from({ length: 1010 }, (_, i) => `many/${String(i).padStart(4, '0')}`);
        for (let i = 0; i < paths.length; i += 50) {
          await Promise.all(paths.slice(i, i + 50).map((p) => driver.put(p, Buffer.from('x'))));
        }
        assert.equal((await driver.list('many')).length, paths.length);
        await driver.deletePrefix('many');
        assert.deepEqual(await driver.list('many'), []);
      });

      it('refuses to delete the whole store', async function () {
        await expectRejection(driver.deletePrefix(''), InvalidPathError);
      });
    });

    describe('assemble', function () {
      it('moves a single source into place', async function () {
        const body = randomBytes(70_000);
        await driver.put('_uploads/u1/parts/0', body);
        await driver.assemble('blobs/x/data', ['_uploads/u1/parts/0']);
        assert.equal((await readAll(await driver.read('blobs/x/data'))).equals(body), true);
        assert.equal((await driver.stat('blobs/x/data'))?.size, body.length);
        await driver.deletePrefix('_uploads/u1');
        assert.equal((await readAll(await driver.read('blobs/x/data'))).equals(body), true);
        await driver.delete('blobs/x/data');
      });

      it('concatenates several tiny sources, in the given order', async function () {
        const parts = [Buffer.from('alpha-'), Buffer.from('b'), Buffer.alloc(0), Buffer.from('-gamma'), randomBytes(1000)];
        const names = parts.map((_, i) => `_uploads/u2/parts/${String(i).padStart(16, '0')}`);
        await Promise.all(parts.map((part, i) => driver.put(names[i]!, part)));
        // Order given by the caller, not by name.
        const order = [2, 0, 1, 4, 3];
        await driver.assemble('blobs/y/data', order.map((i) => names[i]!));
        const expected = Buffer.concat(order.map((i) => parts[i]!));
        assert.equal((await readAll(await driver.read('blobs/y/data'))).equals(expected), true);
        await driver.deletePrefix('_uploads/u2');
        await driver.delete('blobs/y/data');
      });

      it('concatenates sources of 5 MiB and more (server-side where the backend can)', async function () {
        this.timeout(120_000);
        const parts = [randomBytes(5 * MiB), randomBytes(6 * MiB + 3), randomBytes(1234)];
        const names = parts.map((_, i) => `_uploads/u3/parts/${i}`);
        for (let i = 0; i < parts.length; i++) await driver.put(names[i]!, parts[i]!);
        await driver.assemble('blobs/z/data', names);
        const expected = createHash('sha256').update(Buffer.concat(parts)).digest('hex');
        const got = await sha256Of(await driver.read('blobs/z/data'));
        assert.deepEqual(got, { digest: expected, size: parts.reduce((n, p) => n + p.length, 0) });
        // A range across the boundary of two sources.
        const across = await readAll(await driver.read('blobs/z/data', { offset: 5 * MiB - 2, end: 5 * MiB + 1 }));
        assert.deepEqual([...across], [...parts[0]!.subarray(-2), ...parts[1]!.subarray(0, 2)]);
        await driver.deletePrefix('_uploads/u3');
        await driver.delete('blobs/z/data');
      });

      it('concatenates large sources followed by small ones in the middle', async function () {
        this.timeout(120_000);
        const parts = [randomBytes(5 * MiB), randomBytes(10), randomBytes(5 * MiB)];
        const names = parts.map((_, i) => `_uploads/u4/parts/${i}`);
        for (let i = 0; i < parts.length; i++) await driver.put(names[i]!, parts[i]!);
        await driver.assemble('blobs/w/data', names);
        const expected = createHash('sha256').update(Buffer.concat(parts)).digest('hex');
        assert.equal((await sha256Of(await driver.read('blobs/w/data'))).digest, expected);
        await driver.deletePrefix('_uploads/u4');
        await driver.delete('blobs/w/data');
      });

      it('replaces an existing destination', async function () {
        await driver.put('dest/obj', Buffer.from('old content that is longer'));
        await driver.put('src/1', Buffer.from('new'));
        await driver.put('src/2', Buffer.from('!'));
        await driver.assemble('dest/obj', ['src/1', 'src/2']);
        assert.equal((await readAll(await driver.read('dest/obj'))).toString(), 'new!');
        await driver.put('src/3', Buffer.from('single'));
        await driver.assemble('dest/obj', ['src/3']);
        assert.equal((await readAll(await driver.read('dest/obj'))).toString(), 'single');
        await driver.deletePrefix('src');
        await driver.delete('dest/obj');
      });

      it('creates an empty object from no sources', async function () {
        await driver.assemble('empty/obj', []);
        assert.equal((await driver.stat('empty/obj'))?.size, 0);
        await driver.delete('empty/obj');
      });

      it('fails with PathNotFoundError on a missing source, leaving no destination and the sources intact', async function () {
        await driver.put('src/a', Buffer.from('aaa'));
        await driver.put('src/c', Buffer.from('ccc'));
        await expectRejection(driver.assemble('dest/none', ['src/a', 'src/b', 'src/c']), PathNotFoundError);
        await expectRejection(driver.assemble('dest/none', ['src/b']), PathNotFoundError);
        assert.equal(await driver.stat('dest/none'), undefined);
        assert.equal((await readAll(await driver.read('src/a'))).toString(), 'aaa');
        assert.equal((await readAll(await driver.read('src/c'))).toString(), 'ccc');
        await driver.deletePrefix('src');
      });
    });

    describe('path validation', function () {
      for (const bad of INVALID_PATHS) {
        it(`rejects ${JSON.stringify(bad.length > 40 ? `${bad.slice(0, 10)}...(${bad.length})` : bad)} everywhere`, async function () {
          await expectRejection(driver.put(bad, Buffer.from('x')), InvalidPathError);
          await expectRejection(driver.read(bad), InvalidPathError);
          await expectRejection(driver.stat(bad), InvalidPathError);
          await expectRejection(driver.delete(bad), InvalidPathError);
          await expectRejection(driver.assemble(bad, []), InvalidPathError);
          await expectRejection(driver.assemble('ok/dest', [bad]), InvalidPathError);
          if (bad !== '') {
            await expectRejection(driver.list(bad), InvalidPathError);
            await expectRejection(driver.deletePrefix(bad), InvalidPathError);
          }
        });
      }

      it('accepts the paths of the registry layout', async function () {
        for (const path of VALID_PATHS) {
          await driver.put(path, Buffer.from(path));
          assert.equal((await readAll(await driver.read(path))).toString(), path);
        }
        assert.deepEqual((await driver.list('')).map((o) => o.path), [...VALID_PATHS].sort());
        for (const path of VALID_PATHS) await driver.delete(path);
      });
    });

    describe('streaming and failure', function () {
      it('streams a large object in and out without holding it in memory', async function () {
        this.timeout(300_000);
        const size = options.largeObjectSize ?? 128 * MiB;
        const limit = options.maxRssGrowth ?? size / 2;
        // Warm up first (lazy modules, JIT, a driver's reusable buffers), so the baseline holds
        // the one-time costs and the check sees only what grows with the object.
        const warmUp = generatedStream(40 * MiB);
        await driver.put('big/warm-up', warmUp.stream);
        assert.equal((await sha256Of(await driver.read('big/warm-up'))).digest, warmUp.digest());
        await driver.delete('big/warm-up');
        const baseline = process.memoryUsage().rss;
        let peak = baseline;
        const sampler = setInterval(() => {
          peak = Math.max(peak, process.memoryUsage().rss);
        }, 5);
        try {
          const source = generatedStream(size);
          assert.equal(await driver.put('big/object', source.stream), size);
          const read = await sha256Of(await driver.read('big/object'));
          assert.deepEqual(read, { digest: source.digest(), size });
        } finally {
          clearInterval(sampler);
        }
        peak = Math.max(peak, process.memoryUsage().rss);
        const growth = peak - baseline;
        assert.ok(growth < limit, `RSS grew by ${(growth / MiB).toFixed(1)} MiB for a ${size / MiB} MiB object (limit ${(limit / MiB).toFixed(0)} MiB)`);
        await driver.delete('big/object');
      });

      for (const failAfter of [1024, options.failAfterBytes ?? 20 * MiB]) {
        it(`leaves nothing visible when the source stream errors after ${failAfter} bytes`, async function () {
          this.timeout(120_000);
          await expectRejection(driver.put('f/new', failingStream(failAfter)), Error);
          assert.equal(await driver.stat('f/new'), undefined);
          await expectRejection(driver.read('f/new'), PathNotFoundError);
          // Replacing an existing object with a failing stream keeps the old object whole.
          await driver.put('f/old', Buffer.from('intact'));
          await expectRejection(driver.put('f/old', failingStream(failAfter)), Error);
          assert.equal((await readAll(await driver.read('f/old'))).toString(), 'intact');
          assert.deepEqual((await driver.list('')).map((o) => o.path), ['f/old']);
          await driver.delete('f/old');
        });
      }

      it('handles concurrent puts to different paths', async function () {
        const bodies = Array.from({ length: 16 }, (_, i) => randomBytes(64 * 1024 + i));
        const written = await Promise.all(
          bodies.map((body, i) => driver.put(`c/${i % 4}/${i}`, i % 2 ? body : Readable.from([body.subarray(0, 100), body.subarray(100)]))),
        );
        assert.deepEqual(written, bodies.map((b) => b.length));
        for (let i = 0; i < bodies.length; i++) {
          assert.equal((await readAll(await driver.read(`c/${i % 4}/${i}`))).equals(bodies[i]!), true);
        }
        await driver.deletePrefix('c');
      });

      it('keeps one whole version under concurrent puts to the same path', async function () {
        const bodies = Array.from({ length: 6 }, () => randomBytes(200_000));
        await Promise.all(bodies.map((body) => driver.put('same/path', Readable.from([body.subarray(0, 50_000), body.subarray(50_000)]))));
        const got = await readAll(await driver.read('same/path'));
        assert.equal(bodies.some((body) => body.equals(got)), true);
        assert.deepEqual((await driver.list('')).map((o) => o.path), ['same/path']);
        await driver.delete('same/path');
      });
    });
  });
}
