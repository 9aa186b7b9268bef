/**
 * Blob GETs share read buffers (the filesystem driver's pool, recycled after each socket
 * write). Many pulls at once, whole and ranged, with clients that go away mid-body, must
 * still give every caller exactly its bytes: a buffer handed back too early would show up
 * here as another blob's bytes in a response.
 */
import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { makeEmbeddedRegistry } from './embedded-backends.ts';
import type { RegistryUnderTest } from './registry-suite.ts';

interface Blob {
  data: Buffer;
  digest: string;
}

const REPO = 'concurrent/pulls';

function blobOf(size: number): Blob {
  const data = randomBytes(size);
  return { data, digest: `sha256:${createHash('sha256').update(data).digest('hex')}` };
}

/**
 * GET a blob; `abortAfter` bytes: the client destroys the request once it has that many.
 * `slow`: the client pauses after each chunk, so the server's socket buffers fill and its
 * writes are queued holding the buffers (where a buffer recycled too early gets overwritten).
 */
function get(url: string, headers: Record<string, string>, abortAfter?: number, slow = false): Promise<{ status: number; body: Buffer; aborted: boolean }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let received = 0;
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        received += chunk.length;
        if (slow) {
          res.pause();
          setTimeout(() => res.resume(), 1);
        }
        if (abortAfter !== undefined && received >= abortAfter) {
          req.destroy();
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), aborted: true });
        }
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), aborted: false }));
      res.on('error', (err) => (abortAfter === undefined ? reject(err) : undefined));
    });
    req.on('error', (err) => (abortAfter === undefined ? reject(err) : undefined));
  });
}

describe('registry /v2 HTTP: concurrent blob pulls with shared read buffers (embedded backends)', function () {
  this.timeout(120_000);
  let registry: RegistryUnderTest;
  // Sizes around and between the 1 MiB read buffer, so chunks end at every kind of boundary.
  const blobs = [3 * 1048576 + 17, 1048576, 1048575, 5 * 1048576 + 4093, 65_537, 2 * 1048576 - 1].map(blobOf);
  // Larger than what loopback socket buffers hold, read slowly: the server's writes must queue.
  const large = blobOf(24 * 1048576 + 3);

  before(async () => {
    registry = await makeEmbeddedRegistry();
    for (const blob of [...blobs, large]) {
      const res = await fetch(`${registry.url}/v2/${REPO}/blobs/uploads/?digest=${blob.digest}`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: new Uint8Array(blob.data),
      });
      expect(res.status, await res.text()).to.equal(201);
    }
  });

  after(async () => {
    await registry?.close();
  });

  it('gives every caller its own bytes: 100 pulls, 16 at a time, whole, ranged, read slowly and abandoned mid-body', async () => {
    const problems: string[] = [];
    let next = 0;
    const total = 96;
    const worker = async () => {
      for (;;) {
        const i = next++;
        if (i >= total) return;
        const blob = blobs[i % blobs.length]!;
        const url = `${registry.url}/v2/${REPO}/blobs/${blob.digest}`;
        const kind = i % 4;
        if (kind === 0 || kind === 1) {
          const reply = await get(url, {}, undefined, kind === 1);
          if (reply.status !== 200 || !reply.body.equals(blob.data)) problems.push(`#${i} whole: ${reply.status}, ${reply.body.length} bytes`);
        } else if (kind === 2) {
          const start = Math.floor(blob.data.length / 3) + i;
          const reply = await get(url, { range: `bytes=${start}-` }, undefined, true);
          if (reply.status !== 206 || !reply.body.equals(blob.data.subarray(start))) problems.push(`#${i} range ${start}-: ${reply.status}, ${reply.body.length} bytes`);
        } else {
          // Goes away after the first bytes: its buffers must not come back to the pool while in use.
          const reply = await get(url, {}, 1);
          if (!blob.data.subarray(0, reply.body.length).equals(reply.body)) problems.push(`#${i} abandoned: wrong leading bytes`);
        }
      }
    };
    const slowLarge = async () => {
      for (let round = 0; round < 2; round++) {
        const reply = await get(`${registry.url}/v2/${REPO}/blobs/${large.digest}`, {}, undefined, true);
        if (reply.status !== 200 || !reply.body.equals(large.data)) problems.push(`large, read slowly: ${reply.status}, ${reply.body.length} bytes, not the pushed bytes`);
      }
    };
    await Promise.all([...Array.from({ length: 14 }, worker), slowLarge(), slowLarge()]);
    expect(problems).to.deep.equal([]);
    // And afterwards, one more round of whole pulls, in parallel, all intact.
    const after = await Promise.all(blobs.map((blob) => get(`${registry.url}/v2/${REPO}/blobs/${blob.digest}`, {})));
    expect(after.map((r, i) => r.status === 200 && r.body.equals(blobs[i]!.data))).to.deep.equal(blobs.map(() => true));
  });
});
