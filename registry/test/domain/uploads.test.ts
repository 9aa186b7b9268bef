/** BlobUploadSessions below HTTP, on the real filesystem driver, PGlite and memory cache. */
import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { FilesystemDriver } from '../../src/storage/filesystem.ts';
import { PGliteDatabase } from '../../src/metadata/pglite.ts';
import { SqlMetadataStore } from '../../src/metadata/sql-store.ts';
import { MemoryCache } from '../../src/cache/memory.ts';
import { BlobStore } from '../../src/domain/blob-store.ts';
import { BlobUploadSessions } from '../../src/domain/uploads.ts';
import { RegistryError } from '../../src/errors.ts';
import { parseDigest } from '../../src/oci/grammar.ts';

const sha256 = (data: Buffer) => parseDigest(`sha256:${createHash('sha256').update(data).digest('hex')}`);
const body = (data: Buffer, offset?: number) => ({
  stream: Readable.from([data]),
  length: data.length,
  ...(offset !== undefined ? { range: { start: offset, end: offset + data.length - 1 } } : {}),
});

describe('domain: blob upload sessions', function () {
  let directory: string;
  let storage: FilesystemDriver;
  let db: PGliteDatabase;
  let metadata: SqlMetadataStore;
  let caches: MemoryCache[] = [];
  const sessions = () => {
    const cache = new MemoryCache();
    caches.push(cache);
    const blobs = new BlobStore({ storage, metadata });
    return { uploads: new BlobUploadSessions({ storage, cache, blobs, ttlSeconds: 600 }), blobs, cache };
  };

  before(async function () {
    directory = await mkdtemp(join(tmpdir(), 'berth-uploads-'));
    storage = new FilesystemDriver({ rootDirectory: directory });
    db = await PGliteDatabase.open({});
    metadata = new SqlMetadataStore(db);
    await metadata.migrate();
  });
  after(async function () {
    for (const cache of caches) await cache.close();
    caches = [];
    await db.close();
    await rm(directory, { recursive: true, force: true });
  });

  it('finishes on a fresh process (no running hash, no cache) by re-reading the parts', async function () {
    const first = sessions();
    const data = randomBytes(300_000);
    const started = await first.uploads.start('dom/a');
    await first.uploads.append('dom/a', started.id, body(data.subarray(0, 100_000), 0));
    await first.uploads.append('dom/a', started.id, body(data.subarray(100_000, 200_000), 100_000));
    const second = sessions();
    expect((await second.uploads.status('dom/a', started.id)).offset).to.equal(200_000);
    await second.uploads.append('dom/a', started.id, body(data.subarray(200_000), 200_000));
    const blob = await second.uploads.finish('dom/a', started.id, sha256(data));
    expect(blob).to.deep.equal({ digest: sha256(data).value, size: data.length });
    const chunks: Buffer[] = [];
    for await (const chunk of await second.blobs.read(sha256(data))) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(data)).to.equal(true);
    expect(await storage.list(`_uploads/${started.id}`)).to.deep.equal([]);
  });

  it('keeps the session unchanged when a chunk is cut short', async function () {
    const { uploads } = sessions();
    const started = await uploads.start('dom/b');
    const broken = new Readable({
      read() {
        this.push(randomBytes(1000));
        this.destroy(new Error('client went away'));
      },
    });
    let failed = false;
    try {
      await uploads.append('dom/b', started.id, { stream: broken });
    } catch {
      failed = true;
    }
    expect(failed).to.equal(true);
    expect((await uploads.status('dom/b', started.id)).offset).to.equal(0);
    const data = randomBytes(500);
    await uploads.append('dom/b', started.id, body(data, 0));
    expect((await uploads.finish('dom/b', started.id, sha256(data))).size).to.equal(500);
  });

  it('purges abandoned sessions, but not recent ones or one being written', async function () {
    const { uploads, cache } = sessions();
    for (const { id } of await Promise.all([uploads.start('dom/old'), uploads.start('dom/old')])) await uploads.cancel('dom/old', id);
    const old = await uploads.start('dom/c');
    await uploads.append('dom/c', old.id, body(randomBytes(10), 0));
    const busy = await uploads.start('dom/c');
    await cache.set(`upload:${busy.id}:lock`, 'someone', 60);
    // An hour from now, both sessions are an hour old.
    const later = Date.now() + 3_600_000;
    expect(await uploads.purgeAbandoned(7200, later)).to.equal(0);
    expect(await uploads.purgeAbandoned(1800, later)).to.equal(1);
    let unknown: unknown;
    try {
      await uploads.status('dom/c', old.id);
    } catch (err) {
      unknown = err;
    }
    expect(unknown).to.be.instanceOf(RegistryError).with.property('code', 'BLOB_UPLOAD_UNKNOWN');
    expect((await uploads.status('dom/c', busy.id)).offset).to.equal(0);
  });
});
