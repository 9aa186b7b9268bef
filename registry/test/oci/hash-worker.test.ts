/** Digests computed on the worker thread (oci/hash-worker.ts) against Node's crypto in this thread. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { hashWorkerBlocks, runningHash, streamHasher, type ChunkHasher, type StreamHasher } from '../../src/oci/hash-worker.ts';

async function feed(hasher: StreamHasher | ChunkHasher, data: Buffer, sizes: number[]): Promise<void> {
  for (let at = 0, i = 0; at < data.length; i++) {
    const n = Math.min(sizes[i % sizes.length]!, data.length - at);
    await hasher.update(data.subarray(at, at + n));
    at += n;
  }
}

async function settled(): Promise<void> {
  // Blocks of abandoned streams come back once the worker has taken them.
  for (let i = 0; i < 100 && hashWorkerBlocks().free !== hashWorkerBlocks().total; i++) await new Promise((r) => setTimeout(r, 10));
}

describe('oci: hashing on the worker thread', function () {
  it('gives the digest Node computes, for any chunking, sha256 and sha512, empty and across blocks', async function () {
    for (const algorithm of ['sha256', 'sha512'] as const) {
      for (const size of [0, 1, 512 * 1024 - 1, 512 * 1024, 512 * 1024 + 1, 3 * 1024 * 1024 + 77]) {
        const data = randomBytes(size);
        const hasher = streamHasher(algorithm);
        await feed(hasher, data, [1, 65536, 7, 1 << 20, 4093]);
        assert.equal(await hasher.digest(), createHash(algorithm).update(data).digest('hex'), `${algorithm} of ${size} bytes`);
      }
    }
    await settled();
    assert.deepEqual(hashWorkerBlocks().free, hashWorkerBlocks().total);
  });

  it('keeps streams apart: more streams at once than it has blocks for (the rest hash in this thread)', async function () {
    const datas = Array.from({ length: 20 }, (_, i) => randomBytes(700_000 + i * 1000));
    const hashers = datas.map(() => streamHasher('sha256'));
    // interleave the streams' chunks
    for (let at = 0; at < 721_000; at += 65536) {
      for (let i = 0; i < datas.length; i++) {
        const chunk = datas[i]!.subarray(at, at + 65536);
        if (chunk.length > 0) await hashers[i]!.update(chunk);
      }
    }
    const digests = await Promise.all(hashers.map((h) => h.digest()));
    assert.deepEqual(digests, datas.map((d) => createHash('sha256').update(d).digest('hex')));
    await settled();
    assert.equal(hashWorkerBlocks().free, hashWorkerBlocks().total);
  });

  it('gives its blocks back when a stream is abandoned half way', async function () {
    for (let i = 0; i < 50; i++) {
      const hasher = streamHasher('sha256');
      await hasher.update(randomBytes(600_000));
      hasher.abandon();
    }
    await settled();
    assert.equal(hashWorkerBlocks().free, hashWorkerBlocks().total);
    const data = randomBytes(2_000_000);
    const hasher = streamHasher('sha256');
    await feed(hasher, data, [65536]);
    assert.equal(await hasher.digest(), createHash('sha256').update(data).digest('hex'));
  });

  describe('running hashes of chunked uploads', function () {
    it('digest so far after every request equals Node\'s digest of the prefix; no block is held between requests', async function () {
      for (const algorithm of ['sha256', 'sha512'] as const) {
        const data = randomBytes(5 * 1024 * 1024 + 3);
        const hash = runningHash(algorithm);
        // Requests of 1 MiB + 17 bytes (not block-aligned), each fed in uneven pieces.
        for (let at = 0; at < data.length; ) {
          const end = Math.min(at + (1 << 20) + 17, data.length);
          const hasher = hash.feed();
          await feed(hasher, data.subarray(at, end), [65536, 1000, 300_000]);
          assert.equal(await hasher.checkpoint(), createHash(algorithm).update(data.subarray(0, end)).digest('hex'), `${algorithm} at ${end}`);
          at = end;
          assert.equal(hashWorkerBlocks().free, hashWorkerBlocks().total, 'blocks held between two requests of a session');
        }
        hash.dispose();
      }
    });

    it('goes on without blocks when every block is lent (bytes posted as copies), and sessions stay apart', async function () {
      // Four streams hold all eight blocks.
      const holders = Array.from({ length: 4 }, () => streamHasher('sha256'));
      assert.equal(hashWorkerBlocks().free, 0);
      const datas = [randomBytes(3_000_000), randomBytes(2_500_000)];
      const hashes = datas.map(() => runningHash('sha256'));
      for (const [half, [from, to]] of [[0, 1_200_000], [1_200_000, 3_000_000]].entries()) {
        for (const [i, data] of datas.entries()) {
          const hasher = hashes[i]!.feed();
          await feed(hasher, data.subarray(from, to), [65536]);
          assert.equal(await hasher.checkpoint(), createHash('sha256').update(data.subarray(0, to)).digest('hex'), `session ${i}, request ${half}`);
        }
      }
      hashes.forEach((h) => h.dispose());
      holders.forEach((h) => h.abandon());
      await settled();
      assert.equal(hashWorkerBlocks().free, hashWorkerBlocks().total);
    });

    it('a request abandoned half way gives its blocks back; the disposed hash is gone, a new one starts from nothing', async function () {
      const hash = runningHash('sha256');
      const first = hash.feed();
      await feed(first, randomBytes(1_500_000), [65536]);
      first.abandon();
      hash.dispose();
      await settled();
      assert.equal(hashWorkerBlocks().free, hashWorkerBlocks().total);
      const again = runningHash('sha256').feed();
      const data = randomBytes(100_000);
      await feed(again, data, [4096]);
      assert.equal(await again.checkpoint(), createHash('sha256').update(data).digest('hex'));
    });
  });

  it('does not keep a process alive once its work is done, nor for a running hash between requests', function () {
    this.timeout(60_000);
    const module = fileURLToPath(new URL('../../src/oci/hash-worker.ts', import.meta.url));
    // The running hash is left undisposed, as a session whose client went away.
    const script = `const { streamHasher, runningHash } = await import(${JSON.stringify(module)});
      const h = streamHasher('sha256'); await h.update(Buffer.alloc(3 << 20, 1)); console.log(await h.digest());
      const r = runningHash('sha256').feed(); await r.update(Buffer.alloc(3 << 20, 1)); console.log(await r.checkpoint());`;
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(run.error, undefined, 'the process did not exit within 30 s: the hashing worker keeps it alive');
    assert.equal(run.status, 0, run.stderr);
    const expected = createHash('sha256').update(Buffer.alloc(3 << 20, 1)).digest('hex');
    assert.equal(run.stdout.trim(), `${expected}\n${expected}`);
  });
});
