/**
 * The /v2 HTTP suite, run against a real listening server over real backends. Written once
 * over a `makeRegistry` factory so it runs on the embedded backends (filesystem, PGlite,
 * memory) and on the production ones (MinIO, Postgres, Redis).
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import type { BlobStorageDriver } from '../../src/storage/driver.ts';
import type { AccessController } from '../../src/http/access.ts';
import { V2Client, chunkedBody, digestOf, errorCode, imageManifest, indexManifest, type Reply } from './registry-client.ts';

export interface RegistryUnderTest {
  /** http://127.0.0.1:<port>; changes on restart. */
  readonly url: string;
  readonly storage: BlobStorageDriver;
  /** Stops the server and starts a fresh app (new process state: caches, LRU) on the same data. */
  restart(): Promise<void>;
  /** A second server on the same storage and metadata, with a cache of its own kind (shared when the cache is). */
  startReplica(): Promise<{ url: string; close(): Promise<void> }>;
  /** Whether replicas share the cache (Redis); memory caches are per process (embedded runs one). */
  readonly sharedCache: boolean;
  close(): Promise<void>;
}

export type MakeRegistry = (options?: { access?: AccessController; maxManifestBytes?: number; externalURL?: string }) => Promise<RegistryUnderTest>;

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const EMPTY_CONFIG = Buffer.from('{}');

function expectError(reply: Reply, status: number, code: string): void {
  expect(reply.status, reply.body.toString().slice(0, 300)).to.equal(status);
  expect(errorCode(reply)).to.equal(code);
}

/** Every object path in storage (the test's view of "what is stored"). */
async function storedPaths(storage: BlobStorageDriver): Promise<string[]> {
  return (await storage.list('')).map((o) => o.path);
}

export function registryHttpSuite(makeRegistry: MakeRegistry): void {
  let registry: RegistryUnderTest;
  let client: V2Client;
  let repoCounter = 0;
  /** A fresh repository name per test, so tests do not see each other's content. */
  const repo = () => `suite/r${Date.now().toString(36)}${repoCounter++}`;

  before(async function () {
    registry = await makeRegistry({ maxManifestBytes: 4 * 1024 * 1024 });
    client = new V2Client(registry.url);
  });

  after(async function () {
    await registry?.close();
  });

  describe('base', function () {
    it('GET /v2/ answers 200 {} with the API version header', async function () {
      const reply = await client.request('GET', '/v2/');
      expect(reply.status).to.equal(200);
      expect(reply.json()).to.deep.equal({});
      expect(reply.headers.get('docker-distribution-api-version')).to.equal('registry/2.0');
    });

    it('answers unknown /v2 paths with an OCI error and the version header', async function () {
      const reply = await client.request('GET', '/v2/a/b/c/unknown');
      expect(reply.status).to.equal(404);
      expect(reply.headers.get('docker-distribution-api-version')).to.equal('registry/2.0');
      expect(reply.json().errors).to.be.an('array').with.length(1);
    });

    it('answers an unsupported method with 405 UNSUPPORTED', async function () {
      const reply = await client.request('POST', `/v2/${repo()}/tags/list`);
      expectError(reply, 405, 'UNSUPPORTED');
    });
  });

  describe('blob uploads', function () {
    it('monolithic POST ?digest= answers 201 with Location and Docker-Content-Digest, and the blob reads back', async function () {
      const name = repo();
      const data = randomBytes(5000);
      const digest = digestOf(data);
      const reply = await client.request('POST', `/v2/${name}/blobs/uploads/?digest=${digest}`, { body: data, headers: { 'content-type': 'application/octet-stream' } });
      expect(reply.status).to.equal(201);
      expect(reply.headers.get('location')).to.match(new RegExp(`/v2/${name}/blobs/${digest}$`));
      expect(reply.headers.get('docker-content-digest')).to.equal(digest);
      const get = await client.request('GET', `/v2/${name}/blobs/${digest}`);
      expect(get.status).to.equal(200);
      expect(get.body.equals(data)).to.equal(true);
      expect(get.headers.get('content-type')).to.equal('application/octet-stream');
      expect(get.headers.get('docker-content-digest')).to.equal(digest);
      expect(get.headers.get('accept-ranges')).to.equal('bytes');
      expect(get.headers.get('content-encoding')).to.equal(null);
    });

    it('HEAD on a blob carries Content-Type, Content-Length and Docker-Content-Digest', async function () {
      const name = repo();
      const data = randomBytes(1234);
      const digest = await client.pushBlob(name, data);
      const head = await client.request('HEAD', `/v2/${name}/blobs/${digest}`);
      expect(head.status).to.equal(200);
      expect(head.headers.get('content-length')).to.equal('1234');
      expect(head.headers.get('content-type')).to.equal('application/octet-stream');
      expect(head.headers.get('docker-content-digest')).to.equal(digest);
      expect(head.body.length).to.equal(0);
    });

    it('serves byte ranges with 206 and Content-Range, and 416 past the end', async function () {
      const name = repo();
      const data = randomBytes(1000);
      const digest = await client.pushBlob(name, data);
      const from = await client.request('GET', `/v2/${name}/blobs/${digest}`, { headers: { range: 'bytes=100-' } });
      expect(from.status).to.equal(206);
      expect(from.body.equals(data.subarray(100))).to.equal(true);
      expect(from.headers.get('content-range')).to.equal('bytes 100-999/1000');
      const window = await client.request('GET', `/v2/${name}/blobs/${digest}`, { headers: { range: 'bytes=10-19' } });
      expect(window.status).to.equal(206);
      expect(window.body.equals(data.subarray(10, 20))).to.equal(true);
      const suffix = await client.request('GET', `/v2/${name}/blobs/${digest}`, { headers: { range: 'bytes=-10' } });
      expect(suffix.status).to.equal(206);
      expect(suffix.body.equals(data.subarray(990))).to.equal(true);
      const clamped = await client.request('GET', `/v2/${name}/blobs/${digest}`, { headers: { range: 'bytes=900-5000' } });
      expect(clamped.status).to.equal(206);
      expect(clamped.headers.get('content-length')).to.equal('100');
      expect(clamped.headers.get('content-range')).to.equal('bytes 900-999/1000');
      const inverted = await client.request('GET', `/v2/${name}/blobs/${digest}`, { headers: { range: 'bytes=500-0' } });
      expect(inverted.status).to.equal(416);
      const beyond = await client.request('GET', `/v2/${name}/blobs/${digest}`, { headers: { range: 'bytes=1000-' } });
      expect(beyond.status).to.equal(416);
      expect(beyond.headers.get('content-range')).to.equal('bytes */1000');
    });

    it('POST opens a session: exactly 202 with Location, Range 0-0 and Docker-Upload-UUID, even with an empty JSON body (crane)', async function () {
      const name = repo();
      const reply = await client.request('POST', `/v2/${name}/blobs/uploads/`, { headers: { 'content-type': 'application/json', 'content-length': '0' }, body: Buffer.alloc(0) });
      expect(reply.status).to.equal(202);
      expect(reply.headers.get('location')).to.match(new RegExp(`/v2/${name}/blobs/uploads/[0-9a-f-]+$`));
      expect(reply.headers.get('range')).to.equal('0-0');
      expect(reply.headers.get('docker-upload-uuid')).to.match(/^[0-9a-f-]{36}$/);
      expect(reply.headers.get('content-length')).to.equal('0');
      expect(reply.body.length).to.equal(0);
    });

    it('chunked PATCH with Content-Range: Range exactly 0-<end>, status 204, PUT closes with 201', async function () {
      const name = repo();
      const data = randomBytes(3000);
      const digest = digestOf(data);
      const post = await client.request('POST', `/v2/${name}/blobs/uploads/`);
      let url = client.resolve(post.headers.get('location'));
      const chunks = [data.subarray(0, 1024), data.subarray(1024, 2048), data.subarray(2048)];
      let offset = 0;
      for (const chunk of chunks) {
        const patch = await client.request('PATCH', url, {
          headers: { 'content-type': 'application/octet-stream', 'content-range': `${offset}-${offset + chunk.length - 1}`, 'content-length': String(chunk.length) },
          body: chunk,
        });
        expect(patch.status, patch.body.toString()).to.equal(202);
        offset += chunk.length;
        expect(patch.headers.get('range')).to.equal(`0-${offset - 1}`);
        url = client.resolve(patch.headers.get('location'));
      }
      const status = await client.request('GET', url);
      expect(status.status).to.equal(204);
      expect(status.headers.get('range')).to.equal(`0-${data.length - 1}`);
      expect(status.headers.get('location')).to.be.a('string');
      const put = await client.request('PUT', `${url}${url.includes('?') ? '&' : '?'}digest=${digest}`);
      expect(put.status).to.equal(201);
      expect(put.headers.get('location')).to.match(new RegExp(`/v2/${name}/blobs/${digest}$`));
      expect(put.headers.get('docker-content-digest')).to.equal(digest);
      expect(put.headers.get('content-length')).to.equal('0');
      const get = await client.request('GET', `/v2/${name}/blobs/${digest}`);
      expect(get.body.equals(data)).to.equal(true);
      // The session is gone once finished.
      expectError(await client.request('GET', url), 404, 'BLOB_UPLOAD_UNKNOWN');
    });

    it('refuses a resent chunk and an out-of-order chunk with 416 and the current Range', async function () {
      const name = repo();
      const data = randomBytes(2048);
      const post = await client.request('POST', `/v2/${name}/blobs/uploads/`);
      const url = client.resolve(post.headers.get('location'));
      const first = data.subarray(0, 1024);
      const ok = await client.request('PATCH', url, { headers: { 'content-range': '0-1023', 'content-type': 'application/octet-stream' }, body: first });
      expect(ok.status).to.equal(202);
      const again = await client.request('PATCH', url, { headers: { 'content-range': '0-1023', 'content-type': 'application/octet-stream' }, body: first });
      expectError(again, 416, 'RANGE_INVALID');
      expect(again.headers.get('range')).to.equal('0-1023');
      const skipped = await client.request('PATCH', url, { headers: { 'content-range': '1500-2047', 'content-type': 'application/octet-stream' }, body: data.subarray(1500) });
      expectError(skipped, 416, 'RANGE_INVALID');
      expect(skipped.headers.get('range')).to.equal('0-1023');
      // The session is intact: the right chunk still completes it.
      const second = await client.request('PATCH', url, { headers: { 'content-range': '1024-2047', 'content-type': 'application/octet-stream' }, body: data.subarray(1024) });
      expect(second.status).to.equal(202);
      const put = await client.request('PUT', `${url}?digest=${digestOf(data)}`);
      expect(put.status).to.equal(201);
    });

    it('lets exactly one of two concurrent PATCHes of the same chunk through; the other gets 416', async function () {
      const name = repo();
      const chunk = randomBytes(300_000);
      const post = await client.request('POST', `/v2/${name}/blobs/uploads/`);
      const url = client.resolve(post.headers.get('location'));
      const send = () => client.request('PATCH', url, { headers: { 'content-range': `0-${chunk.length - 1}` }, body: chunk });
      const statuses = (await Promise.all([send(), send()])).map((r) => r.status).sort();
      expect(statuses).to.deep.equal([202, 416]);
      expect((await client.request('GET', url)).headers.get('range')).to.equal(`0-${chunk.length - 1}`);
      expect((await client.request('PUT', `${url}?digest=${digestOf(chunk)}`)).status).to.equal(201);
    });

    it('keeps a session as it was when the client goes away in the middle of a chunk', async function () {
      const name = repo();
      const post = await client.request('POST', `/v2/${name}/blobs/uploads/`);
      const url = new URL(client.resolve(post.headers.get('location')));
      await new Promise<void>((resolve) => {
        const req = httpRequest({ host: url.hostname, port: url.port, method: 'PATCH', path: url.pathname, headers: { 'content-length': '100000', 'content-range': '0-99999' } });
        req.on('error', () => resolve());
        req.write(randomBytes(40_000), () => setTimeout(() => {
          req.destroy();
          resolve();
        }, 100));
      });
      // The server notices the abort asynchronously; the part must never appear.
      await new Promise((r) => setTimeout(r, 300));
      const status = await client.request('GET', url.toString());
      expect(status.status).to.equal(204);
      expect(status.headers.get('range')).to.equal('0-0');
      const data = randomBytes(2000);
      expect((await client.request('PATCH', url.toString(), { headers: { 'content-range': '0-1999' }, body: data })).status).to.equal(202);
      expect((await client.request('PUT', `${url}?digest=${digestOf(data)}`)).status).to.equal(201);
    });

    it('accepts a streamed PATCH of unknown length without Content-Range (docker), then PUT without a body', async function () {
      const name = repo();
      const pieces = [randomBytes(70000), randomBytes(5), randomBytes(100000)];
      const data = Buffer.concat(pieces);
      const post = await client.request('POST', `/v2/${name}/blobs/uploads/`);
      const patch = await client.request('PATCH', client.resolve(post.headers.get('location')), { body: chunkedBody(pieces) });
      expect(patch.status).to.equal(202);
      expect(patch.headers.get('range')).to.equal(`0-${data.length - 1}`);
      const put = await client.request('PUT', `${client.resolve(patch.headers.get('location'))}?digest=${digestOf(data)}`);
      expect(put.status).to.equal(201);
      expect((await client.request('GET', `/v2/${name}/blobs/${digestOf(data)}`)).body.equals(data)).to.equal(true);
    });

    it('closes with a final chunk in the PUT, and with the whole blob in a POST+PUT', async function () {
      const name = repo();
      const data = randomBytes(4000);
      const post = await client.request('POST', `/v2/${name}/blobs/uploads/`);
      const patch = await client.request('PATCH', client.resolve(post.headers.get('location')), {
        headers: { 'content-range': '0-999', 'content-type': 'application/octet-stream' },
        body: data.subarray(0, 1000),
      });
      expect(patch.status).to.equal(202);
      const put = await client.request('PUT', `${client.resolve(patch.headers.get('location'))}?digest=${digestOf(data)}`, {
        headers: { 'content-range': '1000-3999', 'content-type': 'application/octet-stream' },
        body: data.subarray(1000),
      });
      expect(put.status, put.body.toString()).to.equal(201);
      expect((await client.request('GET', `/v2/${name}/blobs/${digestOf(data)}`)).body.equals(data)).to.equal(true);

      const whole = randomBytes(3333);
      const post2 = await client.request('POST', `/v2/${name}/blobs/uploads/`);
      const put2 = await client.request('PUT', `${client.resolve(post2.headers.get('location'))}?digest=${digestOf(whole)}`, {
        headers: { 'content-type': 'application/octet-stream' },
        body: whole,
      });
      expect(put2.status).to.equal(201);
      expect((await client.request('GET', `/v2/${name}/blobs/${digestOf(whole)}`)).body.equals(whole)).to.equal(true);
    });

    it('uploads sha512 blobs and the empty blob', async function () {
      const name = repo();
      const data = randomBytes(2500);
      const digest512 = digestOf(data, 'sha512');
      const post = await client.request('POST', `/v2/${name}/blobs/uploads/`);
      const url = client.resolve(post.headers.get('location'));
      expect((await client.request('PATCH', url, { headers: { 'content-range': '0-1199' }, body: data.subarray(0, 1200) })).status).to.equal(202);
      expect((await client.request('PATCH', url, { headers: { 'content-range': '1200-2499' }, body: data.subarray(1200) })).status).to.equal(202);
      const put = await client.request('PUT', `${url}?digest=${digest512}`);
      expect(put.status, put.body.toString()).to.equal(201);
      expect(put.headers.get('docker-content-digest')).to.equal(digest512);
      expect((await client.request('GET', `/v2/${name}/blobs/${digest512}`)).body.equals(data)).to.equal(true);
      expect(await client.pushBlob(name, randomBytes(77), 'sha512')).to.match(/^sha512:/);

      const empty = digestOf(Buffer.alloc(0));
      const post2 = await client.request('POST', `/v2/${name}/blobs/uploads/`);
      const put2 = await client.request('PUT', `${client.resolve(post2.headers.get('location'))}?digest=${empty}`);
      expect(put2.status).to.equal(201);
      const get = await client.request('GET', `/v2/${name}/blobs/${empty}`);
      expect(get.status).to.equal(200);
      expect(get.body.length).to.equal(0);
      expect(get.headers.get('content-length')).to.equal('0');
    });

    it('refuses a wrong digest on PUT with DIGEST_INVALID and exposes nothing', async function () {
      const name = repo();
      const data = randomBytes(2000);
      const wrong = digestOf(randomBytes(10));
      const post = await client.request('POST', `/v2/${name}/blobs/uploads/`);
      const url = client.resolve(post.headers.get('location'));
      await client.request('PATCH', url, { headers: { 'content-range': '0-1999' }, body: data });
      const before = await storedPaths(registry.storage);
      const put = await client.request('PUT', `${url}?digest=${wrong}`);
      expectError(put, 400, 'DIGEST_INVALID');
      expect(await storedPaths(registry.storage)).to.deep.equal(before);
      expect((await client.request('GET', `/v2/${name}/blobs/${wrong}`)).status).to.equal(404);
      expect((await client.request('GET', `/v2/${name}/blobs/${digestOf(data)}`)).status).to.equal(404);
      // The session survives the refusal and completes with the right digest.
      expect((await client.request('PUT', `${url}?digest=${digestOf(data)}`)).status).to.equal(201);

      // A refused final chunk leaves no trace: a different chunk of the same length in its
      // place is judged on its own bytes.
      const post2 = await client.request('POST', `/v2/${name}/blobs/uploads/`);
      const url2 = client.resolve(post2.headers.get('location'));
      const head = randomBytes(100);
      const [x, y] = [randomBytes(50), randomBytes(50)];
      expect((await client.request('PATCH', url2, { headers: { 'content-range': '0-99' }, body: head })).status).to.equal(202);
      const refused = await client.request('PUT', `${url2}?digest=${digestOf(randomBytes(1))}`, { headers: { 'content-range': '100-149' }, body: x });
      expectError(refused, 400, 'DIGEST_INVALID');
      expect((await client.request('GET', url2)).headers.get('range')).to.equal('0-99');
      expect((await client.request('PATCH', url2, { headers: { 'content-range': '100-149' }, body: y })).status).to.equal(202);
      expectError(await client.request('PUT', `${url2}?digest=${digestOf(Buffer.concat([head, x]))}`), 400, 'DIGEST_INVALID');
      expect((await client.request('PUT', `${url2}?digest=${digestOf(Buffer.concat([head, y]))}`)).status).to.equal(201);

      const mono = await client.request('POST', `/v2/${name}/blobs/uploads/?digest=${wrong}`, { body: randomBytes(100) });
      expectError(mono, 400, 'DIGEST_INVALID');
      expect((await client.request('HEAD', `/v2/${name}/blobs/${wrong}`)).status).to.equal(404);
    });

    it('cancels a session with DELETE (204), after which it is unknown', async function () {
      const name = repo();
      const post = await client.request('POST', `/v2/${name}/blobs/uploads/`);
      const url = client.resolve(post.headers.get('location'));
      await client.request('PATCH', url, { headers: { 'content-range': '0-9' }, body: randomBytes(10) });
      expect((await client.request('DELETE', url)).status).to.equal(204);
      expectError(await client.request('GET', url), 404, 'BLOB_UPLOAD_UNKNOWN');
      expectError(await client.request('PATCH', url, { body: randomBytes(5) }), 404, 'BLOB_UPLOAD_UNKNOWN');
      expect((await storedPaths(registry.storage)).some((p) => p.includes(new URL(url).pathname.split('/').pop()!))).to.equal(false);
    });

    it('does not continue an upload through another repository', async function () {
      const post = await client.request('POST', `/v2/${repo()}/blobs/uploads/`);
      const id = post.headers.get('docker-upload-uuid');
      expectError(await client.request('GET', `/v2/${repo()}/blobs/uploads/${id}`), 404, 'BLOB_UPLOAD_UNKNOWN');
      expectError(await client.request('GET', `/v2/${repo()}/blobs/uploads/not..an..id`), 404, 'BLOB_UPLOAD_UNKNOWN');
    });

    it('mounts across repositories: 201 with Location exactly /v2/<repo>/blobs/<digest>, with and without from', async function () {
      const source = repo();
      const target = repo();
      const digest = await client.pushBlob(source, randomBytes(600));
      const mounted = await client.request('POST', `/v2/${target}/blobs/uploads/?mount=${digest}&from=${source}`);
      expect(mounted.status).to.equal(201);
      expect(new URL(client.resolve(mounted.headers.get('location'))).pathname).to.equal(`/v2/${target}/blobs/${digest}`);
      expect(mounted.headers.get('docker-content-digest')).to.equal(digest);
      expect((await client.request('HEAD', `/v2/${target}/blobs/${digest}`)).status).to.equal(200);

      const anonymous = repo();
      const auto = await client.request('POST', `/v2/${anonymous}/blobs/uploads/?mount=${digest}`);
      expect(auto.status).to.equal(201);
      expect(new URL(client.resolve(auto.headers.get('location'))).pathname).to.equal(`/v2/${anonymous}/blobs/${digest}`);
    });

    it('answers a mount of an unknown blob with a 202 session that DELETE cancels with 204', async function () {
      const target = repo();
      const missing = digestOf(randomBytes(32));
      const reply = await client.request('POST', `/v2/${target}/blobs/uploads/?mount=${missing}&from=${repo()}`);
      expect(reply.status).to.equal(202);
      expect(reply.headers.get('docker-upload-uuid')).to.be.a('string');
      expect((await client.request('DELETE', client.resolve(reply.headers.get('location')))).status).to.equal(204);
      expect((await client.request('HEAD', `/v2/${target}/blobs/${missing}`)).status).to.equal(404);
    });

    it('keeps blobs per repository: unknown in others, DELETE unlinks (202) without touching other repositories', async function () {
      const a = repo();
      const b = repo();
      const data = randomBytes(700);
      const digest = await client.pushBlob(a, data);
      expectError(await client.request('GET', `/v2/${b}/blobs/${digest}`), 404, 'BLOB_UNKNOWN');
      await client.pushBlob(b, data);
      const del = await client.request('DELETE', `/v2/${a}/blobs/${digest}`);
      expect(del.status).to.equal(202);
      expect((await client.request('HEAD', `/v2/${a}/blobs/${digest}`)).status).to.equal(404);
      expect((await client.request('GET', `/v2/${b}/blobs/${digest}`)).body.equals(data)).to.equal(true);
      expectError(await client.request('DELETE', `/v2/${a}/blobs/${digest}`), 404, 'BLOB_UNKNOWN');
      // One copy in storage for two repositories (dedupe).
      const copies = (await storedPaths(registry.storage)).filter((p) => p.includes(digest.slice('sha256:'.length)));
      expect(copies).to.have.length(1);
    });

    it('continues an upload after a restart of the registry (fresh process state, same storage)', async function () {
      const name = repo();
      const data = randomBytes(3000);
      const post = await client.request('POST', `/v2/${name}/blobs/uploads/`);
      const path = new URL(client.resolve(post.headers.get('location'))).pathname;
      expect((await client.request('PATCH', path, { headers: { 'content-range': '0-999' }, body: data.subarray(0, 1000) })).status).to.equal(202);
      await registry.restart();
      client = new V2Client(registry.url);
      const status = await client.request('GET', path);
      expect(status.status).to.equal(204);
      expect(status.headers.get('range')).to.equal('0-999');
      expect((await client.request('PATCH', path, { headers: { 'content-range': '1000-1999' }, body: data.subarray(1000, 2000) })).status).to.equal(202);
      const put = await client.request('PUT', `${path}?digest=${digestOf(data)}`, { headers: { 'content-range': '2000-2999' }, body: data.subarray(2000) });
      expect(put.status, put.body.toString()).to.equal(201);
      expect((await client.request('GET', `/v2/${name}/blobs/${digestOf(data)}`)).body.equals(data)).to.equal(true);
    });
  });

  describe('replicas', function () {
    it('finishes on one replica an upload opened and continued on another; both serve the image', async function () {
      const replica = await registry.startReplica();
      try {
        const other = new V2Client(replica.url);
        const name = repo();
        const data = randomBytes(5000);
        const post = await client.request('POST', `/v2/${name}/blobs/uploads/`);
        const path = new URL(client.resolve(post.headers.get('location'))).pathname;
        expect((await client.request('PATCH', path, { headers: { 'content-range': '0-1999' }, body: data.subarray(0, 2000) })).status).to.equal(202);
        const moved = await other.request('PATCH', path, { headers: { 'content-range': '2000-3999' }, body: data.subarray(2000, 4000) });
        expect(moved.status, moved.body.toString()).to.equal(202);
        expect(moved.headers.get('range')).to.equal('0-3999');
        expect((await client.request('PATCH', path, { headers: { 'content-range': '4000-4999' }, body: data.subarray(4000) })).status).to.equal(202);
        const put = await other.request('PUT', `${path}?digest=${digestOf(data)}`);
        expect(put.status, put.body.toString()).to.equal(201);
        const image = await other.pushImage(name, 'shared');
        for (const c of [client, other]) {
          expect((await c.request('GET', `/v2/${name}/blobs/${digestOf(data)}`)).body.equals(data)).to.equal(true);
          expect((await c.request('GET', `/v2/${name}/manifests/shared`)).body.equals(image.manifest)).to.equal(true);
        }
        // A tag moved on one replica is seen at once on the other when the cache is shared,
        // and after a delete no replica serves the old manifest.
        expect((await client.request('DELETE', `/v2/${name}/manifests/${image.digest}`)).status).to.equal(202);
        expect((await client.request('GET', `/v2/${name}/manifests/shared`)).status).to.equal(404);
        if (registry.sharedCache) {
          expect((await other.request('GET', `/v2/${name}/manifests/shared`)).status).to.equal(404);
          expect((await other.request('GET', `/v2/${name}/manifests/${image.digest}`)).status).to.equal(404);
        }
      } finally {
        await replica.close();
      }
    });
  });

  describe('manifests', function () {
    it('PUT by tag answers 201 with Location and Docker-Content-Digest; GET and HEAD return the exact bytes', async function () {
      const name = repo();
      const { digest, manifest } = await client.pushImage(name, 'v1');
      const get = await client.request('GET', `/v2/${name}/manifests/v1`, { headers: { accept: OCI_MANIFEST } });
      expect(get.status).to.equal(200);
      expect(get.body.equals(manifest)).to.equal(true);
      expect(get.headers.get('content-type')).to.equal(OCI_MANIFEST);
      expect(get.headers.get('docker-content-digest')).to.equal(digest);
      const byDigest = await client.request('GET', `/v2/${name}/manifests/${digest}`);
      expect(byDigest.body.equals(manifest)).to.equal(true);
      const head = await client.request('HEAD', `/v2/${name}/manifests/v1`);
      expect(head.status).to.equal(200);
      expect(head.headers.get('content-type')).to.equal(OCI_MANIFEST);
      expect(head.headers.get('content-length')).to.equal(String(manifest.length));
      expect(head.headers.get('docker-content-digest')).to.equal(digest);
    });

    it('answers every manifest PUT with Location, also by digest', async function () {
      const name = repo();
      const configDigest = await client.pushBlob(name, EMPTY_CONFIG);
      const manifest = imageManifest({ mediaType: 'application/vnd.oci.empty.v1+json', digest: configDigest, size: 2 }, [], { artifactType: 'application/x.test' });
      const reply = await client.putManifest(name, digestOf(manifest), manifest);
      expect(reply.status).to.equal(201);
      expect(new URL(client.resolve(reply.headers.get('location'))).pathname).to.equal(`/v2/${name}/manifests/${digestOf(manifest)}`);
      expect(reply.headers.get('docker-content-digest')).to.equal(digestOf(manifest));
    });

    it('stores Docker schema 2 manifests and manifest lists with their media type', async function () {
      const name = repo();
      const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
      const layer = randomBytes(300);
      const configDigest = await client.pushBlob(name, config);
      const layerDigest = await client.pushBlob(name, layer);
      const manifest = Buffer.from(JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
        config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: configDigest, size: config.length },
        layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: layerDigest, size: layer.length }],
      }));
      expect((await client.putManifest(name, 'docker', manifest, 'application/vnd.docker.distribution.manifest.v2+json')).status).to.equal(201);
      const list = Buffer.from(JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json',
        manifests: [{ mediaType: 'application/vnd.docker.distribution.manifest.v2+json', digest: digestOf(manifest), size: manifest.length, platform: { architecture: 'amd64', os: 'linux' } }],
      }));
      expect((await client.putManifest(name, 'list', list, 'application/vnd.docker.distribution.manifest.list.v2+json')).status).to.equal(201);
      const get = await client.request('GET', `/v2/${name}/manifests/list`, { headers: { accept: 'application/vnd.docker.distribution.manifest.list.v2+json' } });
      expect(get.headers.get('content-type')).to.equal('application/vnd.docker.distribution.manifest.list.v2+json');
      expect(get.body.equals(list)).to.equal(true);
    });

    it('accepts an OCI index whose children are present, refuses one with a missing child', async function () {
      const name = repo();
      const child = await client.pushImage(name, 'child');
      const index = indexManifest([{ mediaType: OCI_MANIFEST, digest: child.digest, size: child.manifest.length, platform: { os: 'linux', architecture: 'amd64' } }]);
      expect((await client.putManifest(name, 'index', index, OCI_INDEX)).status).to.equal(201);
      const missing = indexManifest([{ mediaType: OCI_MANIFEST, digest: digestOf(randomBytes(9)), size: 10 }]);
      expectError(await client.putManifest(name, 'broken', missing, OCI_INDEX), 400, 'MANIFEST_BLOB_UNKNOWN');
      expectError(await client.request('GET', `/v2/${name}/manifests/broken`), 404, 'MANIFEST_UNKNOWN');
    });

    it('refuses bad manifests with the right error and stores nothing', async function () {
      const name = repo();
      const existing = await client.pushImage(name, 'keep');
      const configDigest = existing.blobs[0]!;
      const before = await storedPaths(registry.storage);
      const tagsBefore = (await client.request('GET', `/v2/${name}/tags/list`)).json();

      const unknownBlob = imageManifest({ mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: 10 }, [
        { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: digestOf(randomBytes(5)), size: 5 },
      ]);
      expectError(await client.putManifest(name, 'bad1', unknownBlob), 400, 'MANIFEST_BLOB_UNKNOWN');
      expectError(await client.putManifest(name, 'bad2', Buffer.from('{"schemaVersion": 2, "config": ')), 400, 'MANIFEST_INVALID');
      expectError(await client.putManifest(name, 'bad3', Buffer.from('[1,2]')), 400, 'MANIFEST_INVALID');
      const valid = imageManifest({ mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: 10 }, []);
      expectError(await client.putManifest(name, digestOf(Buffer.from('other')), valid), 400, 'DIGEST_INVALID');
      const badDescriptor = imageManifest({ mediaType: 'application/vnd.oci.image.config.v1+json', digest: 'sha256:xyz', size: 10 }, []);
      expectError(await client.putManifest(name, 'bad4', badDescriptor), 400, 'MANIFEST_INVALID');
      const schema1 = Buffer.from(JSON.stringify({ schemaVersion: 1, name, tag: 'x', fsLayers: [] }));
      expectError(await client.putManifest(name, 'bad5', schema1, 'application/vnd.docker.distribution.manifest.v1+prettyjws'), 400, 'MANIFEST_INVALID');

      expect(await storedPaths(registry.storage)).to.deep.equal(before);
      expect((await client.request('GET', `/v2/${name}/tags/list`)).json()).to.deep.equal(tagsBefore);
    });

    it('refuses a manifest over the size limit with 413 and accepts one just under 4 MiB', async function () {
      const name = repo();
      const configDigest = await client.pushBlob(name, EMPTY_CONFIG);
      const config = { mediaType: 'application/vnd.oci.empty.v1+json', digest: configDigest, size: 2 };
      const big = imageManifest(config, [], { annotations: { filler: 'x'.repeat(4 * 1024 * 1024) } });
      const reply = await client.putManifest(name, 'big', big);
      expect(reply.status).to.equal(413);
      expect(errorCode(reply)).to.equal('SIZE_INVALID');
      expectError(await client.request('GET', `/v2/${name}/manifests/big`), 404, 'MANIFEST_UNKNOWN');
      const large = imageManifest(config, [], { annotations: { filler: 'x'.repeat(3_900_000) } });
      expect((await client.putManifest(name, 'large', large)).status).to.equal(201);
      expect((await client.request('GET', `/v2/${name}/manifests/large`)).body.equals(large)).to.equal(true);
    });

    it('accepts non-distributable layers (urls) that were never pushed, and an empty layer list', async function () {
      const name = repo();
      const configDigest = await client.pushBlob(name, Buffer.from('{"os":"linux"}'));
      const foreign = digestOf(randomBytes(50));
      const manifest = imageManifest({ mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: 14 }, [
        { mediaType: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', digest: foreign, size: 50, urls: ['https://example.com/layer'] },
      ]);
      expect((await client.putManifest(name, 'nd', manifest)).status).to.equal(201);
      const noLayers = imageManifest({ mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: 14 }, []);
      expect((await client.putManifest(name, 'nolayers', noLayers)).status).to.equal(201);
    });

    it('tags a manifest pushed by digest with ?tag= parameters', async function () {
      const name = repo();
      const configDigest = await client.pushBlob(name, EMPTY_CONFIG);
      const manifest = imageManifest({ mediaType: 'application/vnd.oci.empty.v1+json', digest: configDigest, size: 2 }, []);
      const reply = await client.request('PUT', `/v2/${name}/manifests/${digestOf(manifest)}?tag=one&tag=two`, { headers: { 'content-type': OCI_MANIFEST }, body: manifest });
      expect(reply.status).to.equal(201);
      expect(reply.headers.get('oci-tag')).to.include('one');
      expect((await client.request('GET', `/v2/${name}/tags/list`)).json().tags).to.deep.equal(['one', 'two']);
    });

    it('deletes by digest (202, tags go too) and a tag alone (202)', async function () {
      const name = repo();
      const first = await client.pushImage(name, 'a');
      await client.putManifest(name, 'b', first.manifest);
      const second = await client.pushImage(name, 'c');
      expect((await client.request('DELETE', `/v2/${name}/manifests/b`)).status).to.equal(202);
      expectError(await client.request('GET', `/v2/${name}/manifests/b`), 404, 'MANIFEST_UNKNOWN');
      expect((await client.request('GET', `/v2/${name}/manifests/a`)).status).to.equal(200);
      expect((await client.request('DELETE', `/v2/${name}/manifests/${first.digest}`)).status).to.equal(202);
      expectError(await client.request('GET', `/v2/${name}/manifests/a`), 404, 'MANIFEST_UNKNOWN');
      expect((await client.request('HEAD', `/v2/${name}/manifests/${first.digest}`)).status).to.equal(404);
      expectError(await client.request('DELETE', `/v2/${name}/manifests/${first.digest}`), 404, 'MANIFEST_UNKNOWN');
      expect((await client.request('GET', `/v2/${name}/tags/list`)).json().tags).to.deep.equal(['c']);
      expect((await client.request('GET', `/v2/${name}/manifests/${second.digest}`)).status).to.equal(200);
    });

    it('moves a tag to a new manifest and serves the new one at once', async function () {
      const name = repo();
      const first = await client.pushImage(name, 'moving');
      expect((await client.request('GET', `/v2/${name}/manifests/moving`)).headers.get('docker-content-digest')).to.equal(first.digest);
      const second = await client.pushImage(name, 'moving');
      expect((await client.request('GET', `/v2/${name}/manifests/moving`)).headers.get('docker-content-digest')).to.equal(second.digest);
    });
  });

  describe('referrers', function () {
    it('lists referrers with exact content type, filters by artifactType, follows deletes', async function () {
      const name = repo();
      const subject = await client.pushImage(name, 'subject');
      const configDigest = await client.pushBlob(name, EMPTY_CONFIG);
      const subjectDescriptor = { mediaType: OCI_MANIFEST, digest: subject.digest, size: subject.manifest.length };
      const sbom = imageManifest({ mediaType: 'application/vnd.oci.empty.v1+json', digest: configDigest, size: 2 }, [], {
        artifactType: 'application/spdx+json',
        subject: subjectDescriptor,
        annotations: { 'org.example': 'sbom' },
      });
      const put = await client.putManifest(name, digestOf(sbom), sbom);
      expect(put.status).to.equal(201);
      expect(put.headers.get('oci-subject')).to.equal(subject.digest);
      const sig = imageManifest({ mediaType: 'application/vnd.example.sig.config+json', digest: configDigest, size: 2 }, [], { subject: subjectDescriptor });
      expect((await client.putManifest(name, digestOf(sig), sig)).status).to.equal(201);

      const all = await client.request('GET', `/v2/${name}/referrers/${subject.digest}`);
      expect(all.status).to.equal(200);
      expect(all.headers.get('content-type')).to.equal(OCI_INDEX);
      const index = all.json();
      expect(index.schemaVersion).to.equal(2);
      expect(index.mediaType).to.equal(OCI_INDEX);
      expect(index.manifests.map((m: { digest: string }) => m.digest).sort()).to.deep.equal([digestOf(sbom), digestOf(sig)].sort());
      const sbomEntry = index.manifests.find((m: { digest: string }) => m.digest === digestOf(sbom));
      expect(sbomEntry).to.include({ artifactType: 'application/spdx+json', size: sbom.length, mediaType: OCI_MANIFEST });
      expect(sbomEntry.annotations).to.deep.equal({ 'org.example': 'sbom' });
      const sigEntry = index.manifests.find((m: { digest: string }) => m.digest === digestOf(sig));
      expect(sigEntry.artifactType).to.equal('application/vnd.example.sig.config+json');

      const filtered = await client.request('GET', `/v2/${name}/referrers/${subject.digest}?artifactType=application/spdx%2Bjson`);
      expect(filtered.headers.get('oci-filters-applied')).to.equal('artifactType');
      expect(filtered.json().manifests.map((m: { digest: string }) => m.digest)).to.deep.equal([digestOf(sbom)]);

      expect((await client.request('DELETE', `/v2/${name}/manifests/${digestOf(sbom)}`)).status).to.equal(202);
      const after = (await client.request('GET', `/v2/${name}/referrers/${subject.digest}`)).json();
      expect(after.manifests.map((m: { digest: string }) => m.digest)).to.deep.equal([digestOf(sig)]);
    });

    it('accepts a subject that is not (yet) in the repository and answers an empty index for unknown subjects', async function () {
      const name = repo();
      const configDigest = await client.pushBlob(name, EMPTY_CONFIG);
      const missingSubject = digestOf(randomBytes(20));
      const artifact = imageManifest({ mediaType: 'application/vnd.oci.empty.v1+json', digest: configDigest, size: 2 }, [], {
        artifactType: 'application/x.example',
        subject: { mediaType: OCI_MANIFEST, digest: missingSubject, size: 123 },
      });
      const put = await client.putManifest(name, 'dangling', artifact);
      expect(put.status).to.equal(201);
      expect(put.headers.get('oci-subject')).to.equal(missingSubject);
      expect((await client.request('GET', `/v2/${name}/referrers/${missingSubject}`)).json().manifests).to.have.length(1);
      const none = await client.request('GET', `/v2/${name}/referrers/${digestOf(randomBytes(3))}`);
      expect(none.status).to.equal(200);
      expect(none.json().manifests).to.deep.equal([]);
      expectError(await client.request('GET', `/v2/${name}/referrers/sha256:nothex`), 400, 'DIGEST_INVALID');
    });
  });

  describe('tags and catalog', function () {
    it('lists tags in order with n/last pagination and a Link header', async function () {
      const name = repo();
      const image = await client.pushImage(name, 'b');
      for (const tag of ['a', 'c', 'd']) expect((await client.putManifest(name, tag, image.manifest)).status).to.equal(201);
      const all = await client.request('GET', `/v2/${name}/tags/list`);
      expect(all.json()).to.deep.equal({ name, tags: ['a', 'b', 'c', 'd'] });
      expect(all.headers.get('link')).to.equal(null);
      const page1 = await client.request('GET', `/v2/${name}/tags/list?n=2`);
      expect(page1.json().tags).to.deep.equal(['a', 'b']);
      const link = page1.headers.get('link');
      expect(link).to.match(/^<[^>]*\/v2\/[^>]+\/tags\/list\?n=2&last=b>; rel="next"$/);
      const nextUrl = link!.slice(1, link!.indexOf('>'));
      const page2 = await client.request('GET', nextUrl);
      expect(page2.json().tags).to.deep.equal(['c', 'd']);
      expect(page2.headers.get('link')).to.equal(null);
      expect((await client.request('GET', `/v2/${name}/tags/list?last=c`)).json().tags).to.deep.equal(['d']);
      const zero = await client.request('GET', `/v2/${name}/tags/list?n=0`);
      expect(zero.json().tags).to.deep.equal([]);
      expect(zero.headers.get('link')).to.equal(null);
      expectError(await client.request('GET', `/v2/${name}/tags/list?n=-1`), 400, 'PAGINATION_NUMBER_INVALID');
      expectError(await client.request('GET', `/v2/${name}/tags/list?n=abc`), 400, 'PAGINATION_NUMBER_INVALID');
      expectError(await client.request('GET', `/v2/${repo()}/tags/list`), 404, 'NAME_UNKNOWN');
    });

    it('lists repositories in /v2/_catalog with pagination', async function () {
      const prefix = `catalog${Date.now().toString(36)}`;
      for (const n of ['x', 'y', 'z']) await client.pushBlob(`${prefix}/${n}`, randomBytes(10));
      const all = (await client.request('GET', '/v2/_catalog')).json().repositories as string[];
      expect(all.filter((r) => r.startsWith(prefix))).to.deep.equal([`${prefix}/x`, `${prefix}/y`, `${prefix}/z`]);
      expect([...all].sort()).to.deep.equal(all);
      const page = await client.request('GET', `/v2/_catalog?n=2&last=${prefix}/x`);
      expect(page.json().repositories).to.have.length.at.most(2);
      expect(page.json().repositories[0]).to.equal(`${prefix}/y`);
      expect(page.headers.get('link')).to.match(/rel="next"$/);
    });
  });

  describe('input validation', function () {
    it('refuses invalid repository names with NAME_INVALID', async function () {
      const digest = digestOf('x');
      for (const name of ['UPPER/case', 'a//b', '-lead', 'trail-', 'a..b', `${'a'.repeat(200)}/${'b'.repeat(60)}`]) {
        const reply = await client.request('GET', `/v2/${name}/blobs/${digest}`);
        expectError(reply, 400, 'NAME_INVALID');
      }
      // fetch would normalise dot segments away; send them as written.
      for (const name of ['a/../b', '..', 'a/./b']) {
        const reply = await client.rawRequest('GET', `/v2/${name}/blobs/${digest}`);
        expectError(reply, 400, 'NAME_INVALID');
      }
      expectError(await client.request('POST', `/v2/Bad/blobs/uploads/`), 400, 'NAME_INVALID');
    });

    it('refuses invalid digests with DIGEST_INVALID and invalid tags with MANIFEST_INVALID', async function () {
      const name = repo();
      for (const digest of ['sha256:', 'sha256:abc', `sha256:${'G'.repeat(64)}`, `sha256:${'A'.repeat(64)}`, `md5:${'a'.repeat(32)}`]) {
        expectError(await client.request('GET', `/v2/${name}/blobs/${digest}`), 400, 'DIGEST_INVALID');
      }
      expectError(await client.request('GET', `/v2/${name}/manifests/sha256:zz`), 400, 'DIGEST_INVALID');
      expectError(await client.request('POST', `/v2/${name}/blobs/uploads/?digest=sha256:12`, { body: 'x' }), 400, 'DIGEST_INVALID');
      const manifest = Buffer.from('{}');
      expectError(await client.putManifest(name, `-bad`, manifest), 400, 'MANIFEST_INVALID');
      expectError(await client.putManifest(name, 'a'.repeat(129), manifest), 400, 'MANIFEST_INVALID');
      expectError(await client.putManifest(name, 'ok', manifest, OCI_MANIFEST), 400, 'MANIFEST_INVALID');
    });

    it('answers MANIFEST_UNKNOWN for a tag off the grammar on GET, HEAD and DELETE (no such tag can exist)', async function () {
      const name = repo();
      await client.pushImage(name, 'stable');
      for (const tag of ['.INVALID_MANIFEST_NAME', '-bad', 'a'.repeat(129)]) {
        expectError(await client.request('GET', `/v2/${name}/manifests/${tag}`), 404, 'MANIFEST_UNKNOWN');
        expect((await client.request('HEAD', `/v2/${name}/manifests/${tag}`)).status).to.equal(404);
        expectError(await client.request('DELETE', `/v2/${name}/manifests/${tag}`), 404, 'MANIFEST_UNKNOWN');
      }
      expect((await client.request('GET', `/v2/${name}/manifests/stable`)).status).to.equal(200);
    });

    it('changes nothing stored when requests fail', async function () {
      const name = repo();
      await client.pushImage(name, 'stable');
      const before = await storedPaths(registry.storage);
      const catalogBefore = (await client.request('GET', '/v2/_catalog')).json();
      await client.request('PUT', `/v2/${name}/manifests/next`, { headers: { 'content-type': OCI_MANIFEST }, body: 'not json' });
      await client.request('POST', `/v2/${name}/blobs/uploads/?digest=${digestOf('abc')}`, { body: 'abd' });
      await client.request('POST', `/v2/New..Repo/blobs/uploads/`);
      await client.request('DELETE', `/v2/${name}/manifests/${digestOf('nothing')}`);
      await client.request('GET', `/v2/${name}/blobs/uploads/00000000-0000-0000-0000-000000000000`);
      expect(await storedPaths(registry.storage)).to.deep.equal(before);
      expect((await client.request('GET', '/v2/_catalog')).json()).to.deep.equal(catalogBefore);
    });
  });
}
