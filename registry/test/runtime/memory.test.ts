import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemoryReclaimer, loadMallocTrim, reportingIncomingMessage, type CollectGarbage } from '../../src/runtime/memory.ts';

const MiB = 1024 * 1024;

/** Polls `condition` until it holds or `ms` have passed. */
async function eventually(condition: () => boolean, ms = 2000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!condition() && Date.now() < deadline) await sleep(10);
  return condition();
}

/** A collector that records what it was asked to do. */
function recordingCollector(): { collect: CollectGarbage; calls: string[] } {
  const calls: string[] = [];
  return { calls, collect: (options) => calls.push(options?.type ?? 'major') };
}

describe('MemoryReclaimer', function () {
  const reclaimers: MemoryReclaimer[] = [];
  const make = (options: ConstructorParameters<typeof MemoryReclaimer>[0]) => {
    const reclaimer = new MemoryReclaimer(options);
    reclaimers.push(reclaimer);
    return reclaimer;
  };
  afterEach(() => reclaimers.splice(0).forEach((r) => r.stop()));

  it('collects the young generation after every youngCollectionEveryBytes of body received, not before', function () {
    const { collect, calls } = recordingCollector();
    const reclaimer = make({ collect, youngCollectionEveryBytes: 4 * MiB, idleMs: 60_000 });
    for (let i = 0; i < 63; i++) reclaimer.received(64 * 1024);
    assert.deepEqual(calls, [], 'collected before 4 MiB had arrived');
    reclaimer.received(64 * 1024);
    assert.deepEqual(calls, ['minor']);
    for (let i = 0; i < 128; i++) reclaimer.received(64 * 1024);
    assert.deepEqual(calls, ['minor', 'minor', 'minor']);
    assert.equal(reclaimer.counts.youngCollections, 3);
  });

  it('once idle after enough traffic: runs the idle hooks, then a full collection, then trims', async function () {
    const { collect, calls } = recordingCollector();
    const reclaimer = make({ collect, trim: () => calls.push('trim'), idleMs: 300, releaseAfterBytes: 2 * MiB, youngCollectionEveryBytes: 64 * MiB });
    reclaimer.onIdle(() => calls.push('hook'));
    const sent = Date.now();
    reclaimer.received(3 * MiB);
    assert.ok(await eventually(() => calls.length > 0));
    assert.ok(Date.now() - sent >= 290, `released after ${Date.now() - sent} ms, before the idle time had passed`);
    assert.deepEqual(calls, ['hook', 'major', 'trim']);
    assert.equal(reclaimer.counts.releases, 1);
    // Idle on: nothing more until new traffic.
    await sleep(100);
    assert.equal(reclaimer.counts.releases, 1);
  });

  it('waits while traffic goes on, and releases once it stops', async function () {
    const reclaimer = make({ idleMs: 200, releaseAfterBytes: MiB });
    const started = Date.now();
    // 500 ms of traffic, a piece every 10 ms: never 200 ms without.
    while (Date.now() - started < 500) {
      reclaimer.received(MiB);
      await sleep(10);
    }
    assert.equal(reclaimer.counts.releases, 0, 'released while requests kept arriving');
    assert.ok(await eventually(() => reclaimer.counts.releases === 1));
  });

  it('releases nothing after light traffic (requests count 16 KiB each), and counts it towards the next release', async function () {
    const reclaimer = make({ idleMs: 30, releaseAfterBytes: MiB });
    let hooks = 0;
    reclaimer.onIdle(() => hooks++);
    for (let i = 0; i < 32; i++) reclaimer.requestStarted();
    await sleep(80);
    assert.equal(hooks, 0, '32 requests (512 KiB) released memory');
    for (let i = 0; i < 32; i++) reclaimer.requestStarted();
    await sleep(80);
    assert.equal(hooks, 1);
  });

  it('without a collector still runs the idle hooks; a removed hook is not run', async function () {
    const reclaimer = make({ idleMs: 20, releaseAfterBytes: 1, youngCollectionEveryBytes: 1 });
    const ran: string[] = [];
    const remove = reclaimer.onIdle(() => ran.push('removed'));
    reclaimer.onIdle(() => ran.push('kept'));
    remove();
    reclaimer.received(10);
    await sleep(60);
    assert.deepEqual(ran, ['kept']);
    assert.equal(reclaimer.counts.youngCollections, 0);
    assert.deepEqual(reclaimer.capabilities, { youngCollections: false, trim: false });
  });

  it('stop() cancels a pending release', async function () {
    const reclaimer = make({ idleMs: 20, releaseAfterBytes: 1 });
    reclaimer.received(10);
    reclaimer.stop();
    await sleep(60);
    assert.equal(reclaimer.counts.releases, 0);
  });
});

describe('reportingIncomingMessage (a real HTTP server)', function () {
  let server: Server | undefined;
  afterEach(async () => {
    if (server) {
      server.closeAllConnections();
      await new Promise((resolve) => server!.close(resolve));
      server = undefined;
    }
  });

  it('reports every request and every body byte the parser delivers, and the handler still reads the whole body', async function () {
    const { collect, calls } = recordingCollector();
    const reclaimer = new MemoryReclaimer({ collect, youngCollectionEveryBytes: MiB, idleMs: 60_000, releaseAfterBytes: Number.MAX_SAFE_INTEGER });
    const received: number[] = [];
    server = createServer({ IncomingMessage: reportingIncomingMessage(reclaimer) }, (req, res) => {
      let bytes = 0;
      req.on('data', (chunk: Buffer) => (bytes += chunk.length));
      req.on('end', () => {
        received.push(bytes);
        res.end(String(bytes));
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const body = Buffer.alloc(3 * MiB + 5, 7);
    for (const method of ['PUT', 'GET']) {
      const answer = await new Promise<string>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, method, path: '/', headers: method === 'PUT' ? { 'content-length': body.length } : {} }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(text));
        });
        req.on('error', reject);
        req.end(method === 'PUT' ? body : undefined);
      });
      assert.equal(answer, String(method === 'PUT' ? body.length : 0));
    }
    assert.deepEqual(received, [body.length, 0]);
    // 3 MiB + 5 bytes with a young collection per MiB.
    assert.deepEqual(calls, ['minor', 'minor', 'minor']);
    reclaimer.stop();
  });
});

describe('loadMallocTrim', function () {
  it('loads glibc\'s malloc_trim on Linux with glibc, and calling it works', async function () {
    const glibc = (process.report.getReport() as { header: { glibcVersionRuntime?: string } }).header.glibcVersionRuntime;
    const trim = await loadMallocTrim();
    if (process.platform === 'linux' && glibc) {
      assert.ok(trim, `malloc_trim did not load on glibc ${glibc}: is koffi installed (npm ci)?`);
      trim();
    } else {
      assert.equal(trim, undefined);
    }
  });
});
