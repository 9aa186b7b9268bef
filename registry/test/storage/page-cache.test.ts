import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readlinkSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PageCacheWindow, loadPageCacheControl, type PageCacheControl } from '../../src/storage/page-cache.ts';
import { DirectFileWriter, O_DIRECT, openDirect } from '../../src/storage/direct-io.ts';

const MiB = 1024 * 1024;

/** A control that records what it is asked, by file name, and passes it on to the kernel's. */
function recordingControl(real: PageCacheControl) {
  const dropped: string[] = [];
  const writebacks: Array<[number, number]> = [];
  const control: PageCacheControl = {
    startWriteback: (fd, offset, length) => {
      writebacks.push([offset, offset + length]);
      return real.startWriteback(fd, offset, length);
    },
    drop: (fd) => {
      dropped.push(readlinkSync(`/proc/self/fd/${fd}`));
      return real.drop(fd);
    },
  };
  return { control, dropped, writebacks };
}

describe('page-cache window', function () {
  let dir: string;
  let real: PageCacheControl;
  before(async function () {
    const control = await loadPageCacheControl();
    assert.ok(control, 'posix_fadvise and sync_file_range could not be bound through koffi (npm ci installs koffi; glibc is needed)');
    real = control;
  });
  beforeEach(async function () {
    dir = await fs.mkdtemp(join(tmpdir(), 'berth-page-cache-'));
  });
  afterEach(async function () {
    await fs.rm(dir, { recursive: true, force: true });
  });

  async function files(...names: string[]): Promise<string[]> {
    return Promise.all(
      names.map(async (name) => {
        await fs.writeFile(join(dir, name), 'x');
        return join(dir, name);
      }),
    );
  }

  it('drops the least recently used files beyond its budget, in that order', async function () {
    const { control, dropped } = recordingControl(real);
    const window = new PageCacheWindow({ maxBytes: 10 * MiB, control });
    assert.equal(window.maxObjectBytes, 2 * MiB);
    const [a, b, c, d, e] = await files('a', 'b', 'c', 'd', 'e');
    for (const file of [a!, b!, c!, d!]) window.keep(file, 2 * MiB);
    assert.equal(window.use(a!), true); // b is now the least recently used
    window.keep(e!, 2 * MiB);
    assert.equal(window.keptBytes, 10 * MiB);
    window.keep(join(dir, 'f'), 1); // a file never created: its drop fails quietly
    window.keep(c!, MiB + 1); // kept again, smaller, and most recent
    window.keep(d!, 2 * MiB);
    await window.settled();
    assert.deepEqual(dropped, [b!]);
    window.keep(join(dir, 'g'), 2 * MiB);
    window.keep(join(dir, 'h'), 2 * MiB); // over by 2 MiB + 2 bytes: a goes
    window.keep(join(dir, 'i'), 2 * MiB); // e goes
    await window.settled();
    assert.deepEqual(dropped, [b!, a!, e!]);
    assert.equal(window.use(a!), false);
    assert.equal(window.use(c!), true);
  });

  it('knows the files it keeps, forgets a deleted file, and drops a file over the size limit at once', async function () {
    const { control, dropped } = recordingControl(real);
    const window = new PageCacheWindow({ maxBytes: 8 * MiB, control });
    const [from, to, huge] = await files('from', 'to', 'huge');
    window.keep(to!, MiB);
    assert.equal(window.use(from!), false);
    assert.equal(window.use(to!), true);
    assert.equal(window.keptBytes, MiB);
    window.forget(to!);
    assert.equal(window.keptBytes, 0);
    window.keep(huge!, 2 * MiB + 1);
    assert.equal(window.keptBytes, 0);
    await window.settled();
    assert.deepEqual(dropped, [huge!]);
    assert.throws(() => new PageCacheWindow({ maxBytes: 0, control }), RangeError);
  });

  it('a DirectFileWriter with a cached range writes its slots below it through the page cache, starting their writeback, and the rest direct', async function () {
    if (O_DIRECT === undefined) assert.fail('O_DIRECT is not defined on this platform');
    const cases: Array<{ start: number; below: number; size: number; writebacks: Array<[number, number]>; direct: number }> = [
      // Whole slots and the short last one all below the limit: nothing direct.
      { start: 0, below: 4 * MiB, size: 3 * MiB + 5, writebacks: [[0, MiB], [MiB, 2 * MiB], [2 * MiB, 3 * MiB]], direct: 0 },
      // An append at 1.5 MiB: slots start there.
      { start: MiB + 512 * 1024, below: 4 * MiB, size: 2 * MiB, writebacks: [[1.5 * MiB, 2.5 * MiB], [2.5 * MiB, 3.5 * MiB]], direct: 0 },
      // Past the limit: direct slots, then the last partial block through the cache.
      { start: 0, below: 2 * MiB, size: 5 * MiB + 4099, writebacks: [[0, MiB], [MiB, 2 * MiB]], direct: 3 * MiB + 4096 },
    ];
    for (const { start, below, size, writebacks: expected, direct: expectedDirect } of cases) {
      const { control, writebacks } = recordingControl(real);
      const file = join(dir, `w-${start}-${below}`);
      const head = randomBytes(start);
      await fs.writeFile(file, head);
      const buffered = await fs.open(file, 'r+');
      const direct = await openDirect(file, fs.constants.O_WRONLY);
      assert.ok(direct, `${dir}'s filesystem refuses O_DIRECT`);
      try {
        const body = randomBytes(size);
        const writer = DirectFileWriter.create(direct, buffered, start, { below, startWriteback: control.startWriteback });
        assert.ok(writer, 'no staging slots free');
        await pipeline(Readable.from([body.subarray(0, 1000), body.subarray(1000, MiB + 7), body.subarray(MiB + 7)]), writer);
        assert.equal(writer.bytesWritten, size);
        assert.equal(writer.bytesDirect, expectedDirect);
        assert.deepEqual(writebacks, expected);
        assert.ok((await fs.readFile(file)).equals(Buffer.concat([head, body])));
      } finally {
        await Promise.all([buffered.close(), direct.close()]);
      }
    }
  });

  it('destroyed half way, it ends only once no kernel call uses the file any more', async function () {
    const { control } = recordingControl(real);
    let inFlight = 0;
    const slow: PageCacheControl = {
      ...control,
      startWriteback: async (fd, offset, length) => {
        inFlight++;
        await new Promise((resolve) => setTimeout(resolve, 50));
        await control.startWriteback(fd, offset, length);
        inFlight--;
      },
    };
    const file = join(dir, 'destroyed');
    const buffered = await fs.open(file, 'w+');
    const direct = (await openDirect(file, fs.constants.O_WRONLY))!;
    try {
      let sent = 0;
      const failing = new Readable({
        read() {
          if (sent === 3) this.destroy(new Error('client went away'));
          else this.push(randomBytes(MiB + 17 * sent++));
        },
      });
      const writer = DirectFileWriter.create(direct, buffered, 0, { below: 8 * MiB, startWriteback: slow.startWriteback })!;
      await assert.rejects(pipeline(failing, writer), /client went away/);
      if (!writer.closed) await new Promise((resolve) => writer.once('close', resolve));
      assert.equal(inFlight, 0);
    } finally {
      await Promise.all([buffered.close(), direct.close()]);
    }
  });
});
