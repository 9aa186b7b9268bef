/**
 * Upload sessions survive what production throws at them: a chunked upload opened on one
 * replica is finished on another (shared Postgres, Redis, MinIO), and `kill -9` in the middle
 * of a chunk loses only that chunk: the client asks for the status, resumes and finishes, and
 * no partial blob is visible at any time.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { testEnv } from '../env/test-env.ts';
import { createProductionBackends, startBerth, type Backends, type BerthProcess } from '../lib/berth.ts';
import {
  sha256, startUpload, patchChunk, uploadStatus, closeUpload, headBlob, getBlob, putManifest, hangingPatch,
} from '../lib/oci-client.ts';

const MiB = 1024 * 1024;

describe('two registry processes on the same Postgres, Redis and MinIO', function () {
  this.timeout(5 * 60_000);
  let a: BerthProcess;
  let b: BerthProcess;

  before(async () => {
    const production = await createProductionBackends('replicas');
    const dir = join(testEnv().workDir, 'replicas');
    [a, b] = await Promise.all([
      startBerth({ backends: 'production', dir: join(dir, 'a'), production }),
      startBerth({ backends: 'production', dir: join(dir, 'b'), production }),
    ]);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  it('finishes on one replica a chunked upload opened on the other, and serves the image from both', async () => {
    const repo = 'library/replicas';
    const layer = randomBytes(3 * MiB + 123);
    const digest = sha256(layer);
    let location = await startUpload(a.url, repo);
    // chunks alternate between the replicas
    const chunks = [layer.subarray(0, MiB), layer.subarray(MiB, 2 * MiB), layer.subarray(2 * MiB)];
    let offset = 0;
    for (const [i, chunk] of chunks.entries()) {
      const replica = i % 2 === 0 ? a : b;
      const res = await patchChunk(replica.url, location, offset, chunk);
      expect(res.status, `chunk ${i} on ${replica.host}`).to.equal(202);
      offset += chunk.length;
      expect(res.range).to.equal(`0-${offset - 1}`);
      location = res.location;
    }
    const status = await uploadStatus(a.url, location);
    expect(status).to.deep.equal({ status: 204, range: `0-${layer.length - 1}` });
    expect(await headBlob(a.url, repo, digest)).to.equal(404);
    const closed = await closeUpload(b.url, location, digest);
    expect(closed.status).to.equal(201);

    const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
    const configDigest = sha256(config);
    const cfgLocation = await startUpload(b.url, repo);
    expect((await closeUpload(a.url, cfgLocation, configDigest, config)).status).to.equal(201);
    const manifestDigest = await putManifest(a.url, repo, 'v1', {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest, size: layer.length }],
    });
    for (const replica of [a, b]) {
      const res = await fetch(`${replica.url}/v2/${repo}/manifests/v1`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
      await res.arrayBuffer();
      expect(res.status).to.equal(200);
      expect(res.headers.get('docker-content-digest')).to.equal(manifestDigest);
      expect((await getBlob(replica.url, repo, digest)).equals(layer)).to.equal(true);
    }
  });
});

for (const backends of ['embedded', 'production'] as Backends[]) {
  describe(`kill -9 in the middle of a chunked upload (${backends} backends)`, function () {
    this.timeout(5 * 60_000);

    it('resumes from the reported offset after a restart, and never shows a partial blob', async () => {
      const dir = join(testEnv().workDir, `crash-${backends}`);
      const production = backends === 'production' ? await createProductionBackends('crash') : undefined;
      let berth = await startBerth({ backends, dir, production });
      try {
        const repo = 'library/crash';
        const blob = randomBytes(6 * MiB);
        const digest = sha256(blob);
        let location = await startUpload(berth.url, repo);
        const first = await patchChunk(berth.url, location, 0, blob.subarray(0, 2 * MiB));
        expect(first.status).to.equal(202);
        location = first.location;

        // the second chunk is half sent when the registry dies
        const req = hangingPatch(berth.url, location, 2 * MiB, blob.subarray(2 * MiB, 3 * MiB), 2 * MiB);
        await new Promise((r) => setTimeout(r, 500));
        expect(await headBlob(berth.url, repo, digest)).to.equal(404);
        const port = berth.port;
        await berth.kill9();
        req.destroy();

        berth = await startBerth({ backends, dir, production, port });
        expect(await headBlob(berth.url, repo, digest)).to.equal(404);
        const status = await uploadStatus(berth.url, location);
        expect(status.status).to.equal(204);
        const offset = Number(status.range!.split('-')[1]) + 1;
        if (backends === 'production') {
          // S3 keeps a part per chunk: the half-sent chunk never appeared.
          expect(status.range).to.equal(`0-${2 * MiB - 1}`);
        } else {
          // The filesystem appends in place: what of the half-sent chunk reached the disk counts.
          expect(offset).to.be.within(2 * MiB, 3 * MiB);
        }

        const second = await patchChunk(berth.url, location, offset, blob.subarray(offset, 4 * MiB));
        expect(second.status).to.equal(202);
        expect(await headBlob(berth.url, repo, digest)).to.equal(404);
        const closed = await closeUpload(berth.url, second.location, digest, blob.subarray(4 * MiB));
        expect(closed.status).to.equal(201);
        expect((await getBlob(berth.url, repo, digest)).equals(blob)).to.equal(true);
      } finally {
        await berth.stop();
      }
    });
  });
}
