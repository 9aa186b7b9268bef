/** Digests computed on the worker thread (oci/hash-worker.ts) against Node's crypto in this thread. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { hashWorkerBlocks, streamHasher, type StreamHasher } from '../../src/oci/hash-worker.ts';

async function feed(hasher: StreamHasher, data: Buffer, sizes: number[]): Promise<void> {
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

  it('does not keep a process alive once its work is done', function () {
    this.timeout(60_000);
    const module = fileURLToPath(new URL('../../src/oci/hash-worker.ts', import.meta.url));
    const script = `const { streamHasher } = await import(${JSON.stringify(module)});
      const h = streamHasher('sha256'); await h.update(Buffer.alloc(3 << 20, 1)); console.log(await h.digest());`;
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(run.error, undefined, 'the process did not exit within 30 s: the hashing worker keeps it alive');
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout.trim(), createHash('sha256').update(Buffer.alloc(3 << 20, 1)).digest('hex'));
  });
});
