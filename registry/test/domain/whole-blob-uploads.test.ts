/**
 * A blob sent whole in one request (POST ?digest=, or the closing PUT of an empty session)
 * streams straight to its final key through a VerifyingStream (domain/uploads.ts). These tests
 * prove that a wrong digest or a body cut short leaves nothing visible, no temporary file or
 * incomplete multipart upload behind, and an already stored blob with that digest intact, on
 * the filesystem driver and on MinIO (bodies over one 16 MiB part take the multipart path).
 */
import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Client } from 'minio';
import { testEnv } from '../../../e2e/env/test-env.ts';
import type { BlobStorageDriver } from '../../src/storage/driver.ts';
import { FilesystemDriver } from '../../src/storage/filesystem.ts';
import { S3Driver } from '../../src/storage/s3.ts';
import { PGliteDatabase } from '../../src/metadata/pglite.ts';
import { SqlMetadataStore } from '../../src/metadata/sql-store.ts';
import { MemoryCache } from '../../src/cache/memory.ts';
import { listen, type Listening } from '../http/serve.ts';

const MiB = 1024 * 1024;
const digestOf = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

interface Backend {
  storage: BlobStorageDriver;
  /** Resolves once no write is left half done: no temporary file, no incomplete multipart upload. */
  settled(): Promise<void>;
  cleanup(): Promise<void>;
}

async function until(what: () => Promise<string[]>): Promise<void> {
  for (const deadline = Date.now() + 10_000; ; await delay(50)) {
    const left = await what();
    if (left.length === 0) return;
    if (Date.now() > deadline) throw new Error(`still not settled after 10 s: ${left.join(', ')}`);
  }
}

const backends: Array<{ name: string; open: () => Promise<Backend> }> = [
  {
    name: 'filesystem',
    open: async () => {
      const root = await mkdtemp(join(tmpdir(), 'berth-whole-blob-'));
      const storage = new FilesystemDriver({ rootDirectory: root });
      return {
        storage,
        settled: () => until(async () => (await readdir(join(root, '.tmp')).catch(() => [])).map((name) => `temporary file ${name}`)),
        cleanup: async () => {
          await storage.close();
          await rm(root, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: 's3 (MinIO)',
    open: async () => {
      const minio = testEnv().minio;
      const prefix = `whole-blob-test/${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
      const storage = new S3Driver({ ...minio, prefix });
      await storage.ensureBucket();
      const client = new Client({ endPoint: minio.endPoint, port: minio.port, useSSL: minio.useSSL, accessKey: minio.accessKey, secretKey: minio.secretKey });
      const incomplete = async () => {
        const keys: string[] = [];
        for await (const upload of client.listIncompleteUploads(minio.bucket, `${prefix}/`, true)) keys.push(`incomplete upload ${(upload as { key: string }).key}`);
        return keys;
      };
      return {
        storage,
        settled: () => until(incomplete),
        cleanup: async () => {
          await storage.deletePrefix('blobs').catch(() => undefined);
          await storage.deletePrefix('_uploads').catch(() => undefined);
          await storage.close();
        },
      };
    },
  },
];

/** Sends `declared` bytes of Content-Length but only `sent` of `body`, then drops the connection. */
function cutShort(url: string, method: string, body: Buffer, sent: number): Promise<void> {
  return new Promise((resolve) => {
    const req = httpRequest(url, { method, headers: { 'content-type': 'application/octet-stream', 'content-length': body.length } });
    req.on('error', () => resolve());
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve());
      res.on('error', () => resolve());
    });
    req.write(body.subarray(0, sent), () => setTimeout(() => req.destroy(), 100));
  });
}

for (const backend of backends) {
  describe(`whole-blob uploads verified on the way into place: ${backend.name}`, function () {
    this.timeout(120_000);
    let opened: Backend;
    let db: PGliteDatabase;
    let cache: MemoryCache;
    let server: Listening;
    // Over one 16 MiB S3 part, so MinIO writes go through a multipart upload.
    const stored = randomBytes(20 * MiB);
    const digest = digestOf(stored);
    const name = 'whole/blob';

    const fetchBlob = async () => {
      const res = await fetch(`${server.url}/v2/${name}/blobs/${digest}`);
      return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
    };
    const paths = async () => (await opened.storage.list('')).map((o) => `${o.path} ${o.size}`);
    const session = async (repository = name) => {
      const res = await fetch(`${server.url}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
      expect(res.status).to.equal(202);
      return new URL(res.headers.get('location')!, server.url);
    };
    const send = async (method: string, url: URL | string, body: Buffer) => {
      const res = await fetch(url, { method, headers: { 'content-type': 'application/octet-stream' }, body: new Uint8Array(body) });
      const text = await res.text();
      return { status: res.status, code: text ? (JSON.parse(text) as { errors?: Array<{ code: string }> }).errors?.[0]?.code : undefined };
    };
    const withDigest = (url: URL, value = digest) => {
      const copy = new URL(url);
      copy.searchParams.set('digest', value);
      return copy;
    };

    before(async function () {
      opened = await backend.open();
      db = await PGliteDatabase.open({});
      const metadata = new SqlMetadataStore(db);
      await metadata.migrate();
      cache = new MemoryCache();
      server = await listen({ storage: opened.storage, metadata, cache });
      expect((await send('POST', `${server.url}/v2/${name}/blobs/uploads/?digest=${digest}`, stored)).status).to.equal(201);
    });
    after(async function () {
      await server?.close();
      await cache?.close();
      await db?.close();
      await opened?.cleanup();
    });

    async function expectUntouched(before: string[]): Promise<void> {
      await opened.settled();
      expect(await paths()).to.deep.equal(before);
      const blob = await fetchBlob();
      expect(blob.status).to.equal(200);
      expect(blob.body.equals(stored), 'the stored blob changed').to.equal(true);
    }

    it('POST ?digest= with other content of the same length: DIGEST_INVALID, the stored blob untouched', async function () {
      const before = await paths();
      const reply = await send('POST', `${server.url}/v2/${name}/blobs/uploads/?digest=${digest}`, randomBytes(stored.length));
      expect(reply).to.deep.equal({ status: 400, code: 'DIGEST_INVALID' });
      await expectUntouched(before);
    });

    it('POST ?digest= into another repository with wrong content: nothing linked there, nothing stored', async function () {
      const before = await paths();
      const reply = await send('POST', `${server.url}/v2/whole/other/blobs/uploads/?digest=${digest}`, randomBytes(1000));
      expect(reply).to.deep.equal({ status: 400, code: 'DIGEST_INVALID' });
      expect((await fetch(`${server.url}/v2/whole/other/blobs/${digest}`, { method: 'HEAD' })).status).to.equal(404);
      await expectUntouched(before);
    });

    it('POST ?digest= whose body is cut short: nothing written, the stored blob untouched', async function () {
      const before = await paths();
      const body = randomBytes(stored.length);
      await cutShort(`${server.url}/v2/${name}/blobs/uploads/?digest=${digest}`, 'POST', body, 18 * MiB);
      await expectUntouched(before);
    });

    it('PUT of the whole blob on an empty session with the wrong content: DIGEST_INVALID, the session still usable', async function () {
      const url = await session();
      const before = await paths();
      const reply = await send('PUT', withDigest(url), randomBytes(stored.length));
      expect(reply).to.deep.equal({ status: 400, code: 'DIGEST_INVALID' });
      await expectUntouched(before);
      const status = await fetch(url);
      expect([status.status, status.headers.get('range')]).to.deep.equal([204, '0-0']);
      // The session still takes the right content.
      const data = randomBytes(3000);
      expect((await send('PUT', withDigest(url, digestOf(data)), data)).status).to.equal(201);
    });

    it('PUT of the whole blob on an empty session cut short: nothing written, the stored blob untouched', async function () {
      const url = await session();
      const before = await paths();
      await cutShort(withDigest(url).toString(), 'PUT', randomBytes(stored.length), 18 * MiB);
      await expectUntouched(before);
      const status = await fetch(url);
      expect([status.status, status.headers.get('range')]).to.deep.equal([204, '0-0']);
    });

    it('a wrong Content-Range length on the whole-blob PUT: RANGE_INVALID, nothing written', async function () {
      const url = await session();
      const before = await paths();
      const body = randomBytes(1000);
      const res = await fetch(withDigest(url, digestOf(body)), {
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream', 'content-range': '0-1999' },
        body: new Uint8Array(body),
      });
      expect(res.status).to.equal(416);
      await res.arrayBuffer();
      await expectUntouched(before);
    });
  });
}
