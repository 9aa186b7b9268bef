/**
 * BlobUploadSessions below HTTP, on the real filesystem driver, PGlite and memory cache: once
 * with chunks appended to one object (the filesystem driver appends) and once with a part per
 * chunk (the same driver seen without append, as the S3 driver is).
 */
import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { FilesystemDriver } from '../../src/storage/filesystem.ts';
import { canAppend, type BlobStorageDriver } from '../../src/storage/driver.ts';
import { PGliteDatabase } from '../../src/metadata/pglite.ts';
import { SqlMetadataStore } from '../../src/metadata/sql-store.ts';
import { MemoryCache } from '../../src/cache/memory.ts';
import { BlobStore } from '../../src/domain/blob-store.ts';
import { BlobUploadSessions, type UploadSessionRecords } from '../../src/domain/uploads.ts';
import { RegistryError } from '../../src/errors.ts';
import { parseDigest } from '../../src/oci/grammar.ts';

const sha256 = (data: Buffer) => parseDigest(`sha256:${createHash('sha256').update(data).digest('hex')}`);
const body = (data: Buffer, offset?: number) => ({
  stream: Readable.from([data]),
  length: data.length,
  ...(offset !== undefined ? { range: { start: offset, end: offset + data.length - 1 } } : {}),
});

/** `driver` without its append: upload sessions then store a part per chunk. */
function partsOnly(driver: BlobStorageDriver): BlobStorageDriver {
  return {
    name: driver.name,
    put: (path, body) => driver.put(path, body),
    read: (path, range) => driver.read(path, range),
    stat: (path) => driver.stat(path),
    list: (prefix) => driver.list(prefix),
    assemble: (dest, sources) => driver.assemble(dest, sources),
    delete: (path) => driver.delete(path),
    deletePrefix: (prefix) => driver.deletePrefix(prefix),
    close: () => driver.close(),
  };
}

/** The session rows of `store` as replicas sharing a database see them (PGlite is one process's alone). */
function sharedRecords(store: SqlMetadataStore): UploadSessionRecords {
  return {
    shared: true,
    createUploadSession: (session) => store.createUploadSession(session),
    getUploadSession: (id) => store.getUploadSession(id),
    deleteUploadSession: (id) => store.deleteUploadSession(id),
    listUploadSessionsStartedBefore: (before, limit, afterId) => store.listUploadSessionsStartedBefore(before, limit, afterId),
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

for (const layout of ['appended', 'parts'] as const) {
  describe(`domain: blob upload sessions (chunks ${layout === 'appended' ? 'appended to one object' : 'stored as parts'})`, function () {
    let directory: string;
    let storage: BlobStorageDriver;
    let db: PGliteDatabase;
    let metadata: SqlMetadataStore;
    let caches: MemoryCache[] = [];
    /** Sessions as one process sees them; `replica`: another process may end them (a shared database). */
    const sessions = (options: { replica?: boolean } = {}) => {
      const cache = new MemoryCache();
      caches.push(cache);
      const blobs = new BlobStore({ storage, metadata });
      const records = options.replica ? sharedRecords(metadata) : metadata;
      return { uploads: new BlobUploadSessions({ storage, cache, blobs, records, ttlSeconds: 600 }), blobs, cache };
    };

    before(async function () {
      directory = await mkdtemp(join(tmpdir(), 'berth-uploads-'));
      const filesystem = new FilesystemDriver({ rootDirectory: directory });
      storage = layout === 'appended' ? filesystem : partsOnly(filesystem);
      expect(canAppend(storage)).to.equal(layout === 'appended');
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

    it('refuses a final chunk with the wrong digest and leaves the session as it was', async function () {
      const { uploads } = sessions();
      const data = randomBytes(9000);
      const started = await uploads.start('dom/d');
      await uploads.append('dom/d', started.id, body(data.subarray(0, 5000), 0));
      const refused = await rejection(uploads.finish('dom/d', started.id, sha256(randomBytes(10)), body(data.subarray(5000), 5000)));
      expect(refused).to.be.instanceOf(RegistryError).with.property('code', 'DIGEST_INVALID');
      expect((await uploads.status('dom/d', started.id)).offset).to.equal(5000);
      expect((await sessions().uploads.status('dom/d', started.id)).offset).to.equal(5000);
      const blob = await uploads.finish('dom/d', started.id, sha256(data), body(data.subarray(5000), 5000));
      expect(blob.size).to.equal(9000);
    });

    it('refuses a chunk shorter than its Content-Range and leaves the session as it was', async function () {
      const { uploads } = sessions();
      const data = randomBytes(3000);
      const started = await uploads.start('dom/e');
      await uploads.append('dom/e', started.id, body(data.subarray(0, 1000), 0));
      const short = { stream: Readable.from([data.subarray(1000, 1500)]), range: { start: 1000, end: 2999 } };
      const refused = await rejection(uploads.append('dom/e', started.id, short));
      expect(refused).to.be.instanceOf(RegistryError).with.property('code', 'RANGE_INVALID');
      expect((await sessions().uploads.status('dom/e', started.id)).offset).to.equal(1000);
      await uploads.append('dom/e', started.id, body(data.subarray(1000), 1000));
      expect((await uploads.finish('dom/e', started.id, sha256(data))).size).to.equal(3000);
    });

    it('is unknown everywhere once ended, also to a replica that knew it', async function () {
      const first = sessions({ replica: true });
      const second = sessions({ replica: true });
      const data = randomBytes(5000);
      const started = await first.uploads.start('dom/g');
      expect((await second.uploads.status('dom/g', started.id)).offset).to.equal(0);
      await first.uploads.cancel('dom/g', started.id);
      const unknown = await rejection(second.uploads.append('dom/g', started.id, body(data, 0)));
      expect(unknown).to.be.instanceOf(RegistryError).with.property('code', 'BLOB_UPLOAD_UNKNOWN');
      // Not in the session's repository either, nor in another.
      const other = await first.uploads.start('dom/g');
      expect(await rejection(first.uploads.status('dom/other', other.id))).to.be.instanceOf(RegistryError).with.property('code', 'BLOB_UPLOAD_UNKNOWN');
      expect(await storage.list(`_uploads/${started.id}`)).to.deep.equal([]);
    });

    it('looks up no session it knows in a database no other process writes to, and one it does not know', async function () {
      const counted = { ...sharedRecords(metadata), shared: false, lookups: 0 };
      const getUploadSession = counted.getUploadSession;
      counted.getUploadSession = (id) => {
        counted.lookups++;
        return getUploadSession(id);
      };
      const uploads = new BlobUploadSessions({ storage, cache: new MemoryCache(), blobs: new BlobStore({ storage, metadata }), records: counted, ttlSeconds: 600 });
      const data = randomBytes(3000);
      const started = await uploads.start('dom/j');
      await uploads.append('dom/j', started.id, body(data.subarray(0, 1000), 0));
      await uploads.append('dom/j', started.id, body(data.subarray(1000, 2000), 1000));
      expect((await uploads.finish('dom/j', started.id, sha256(data), body(data.subarray(2000), 2000))).size).to.equal(3000);
      expect(counted.lookups).to.equal(0);
      // A session it does not know is looked up.
      const other = await sessions().uploads.start('dom/j');
      expect((await uploads.status('dom/j', other.id)).offset).to.equal(0);
      expect(counted.lookups).to.equal(1);
    });

    it('answers an id it never handed out with BLOB_UPLOAD_UNKNOWN, whatever its form', async function () {
      const { uploads } = sessions({ replica: true });
      const started = await uploads.start('dom/k');
      for (const id of ['abc', 'not-a-uuid-at-all', started.id.toUpperCase(), `${started.id}0`, 'x'.repeat(100), '../../etc']) {
        expect(await rejection(uploads.status('dom/k', id)), id).to.be.instanceOf(RegistryError).with.property('code', 'BLOB_UPLOAD_UNKNOWN');
        expect(await rejection(uploads.cancel('dom/k', id)), id).to.be.instanceOf(RegistryError).with.property('code', 'BLOB_UPLOAD_UNKNOWN');
      }
      expect((await uploads.status('dom/k', started.id)).offset).to.equal(0);
    });

    it('opens and finishes a whole-blob upload without writing anything under _uploads', async function () {
      const { uploads, blobs } = sessions();
      const data = randomBytes(3 * 1024 * 1024 + 5);
      const before = (await storage.list('_uploads')).length;
      const started = await uploads.start('dom/h');
      expect(await storage.list(`_uploads/${started.id}`)).to.deep.equal([]);
      expect((await uploads.finish('dom/h', started.id, sha256(data), body(data))).size).to.equal(data.length);
      expect((await storage.list('_uploads')).length).to.equal(before);
      expect(await blobs.stat('dom/h', sha256(data))).to.deep.equal({ digest: sha256(data).value, size: data.length });
      expect(await rejection(uploads.status('dom/h', started.id))).to.be.instanceOf(RegistryError).with.property('code', 'BLOB_UPLOAD_UNKNOWN');
    });

    it('purges bytes under _uploads that no session owns once they are old', async function () {
      const { uploads } = sessions();
      const started = await uploads.start('dom/i');
      await uploads.append('dom/i', started.id, body(randomBytes(100), 0));
      // A crash between the end of a session and the removal of its bytes leaves them behind.
      const orphan = '00000000-0000-4000-8000-000000000001';
      await storage.put(`_uploads/${orphan}/parts/0000000000000000`, randomBytes(10));
      // Not an id this registry hands out: bytes of no session either.
      await storage.put('_uploads/junk/data', randomBytes(10));
      expect(await uploads.purgeAbandoned(3600)).to.equal(0);
      expect(await storage.list(`_uploads/${orphan}`)).to.have.length(1);
      const later = Date.now() + 2 * 3_600_000;
      // Every session of this database is two hours old then: the one above at least goes.
      expect(await uploads.purgeAbandoned(3600, later)).to.be.at.least(1);
      expect(await rejection(uploads.status('dom/i', started.id))).to.be.instanceOf(RegistryError).with.property('code', 'BLOB_UPLOAD_UNKNOWN');
      expect(await storage.list(`_uploads/${orphan}`)).to.deep.equal([]);
      expect(await storage.list('_uploads/junk')).to.deep.equal([]);
      expect(await storage.list(`_uploads/${started.id}`)).to.deep.equal([]);
    });

    if (layout === 'appended') {
      it('after a crash in the middle of an append, reports what reached the disk and finishes from there', async function () {
        const first = sessions();
        const data = randomBytes(2 * 1024 * 1024 + 77);
        const started = await first.uploads.start('dom/f');
        await first.uploads.append('dom/f', started.id, body(data.subarray(0, 1000), 0));
        // What a process killed while appending the next chunk leaves: part of it on disk.
        await appendFile(join(directory, '_uploads', started.id, 'data'), data.subarray(1000, 700_000));
        const second = sessions();
        expect((await second.uploads.status('dom/f', started.id)).offset).to.equal(700_000);
        await second.uploads.append('dom/f', started.id, body(data.subarray(700_000), 700_000));
        expect((await second.uploads.finish('dom/f', started.id, sha256(data))).size).to.equal(data.length);
        const chunks: Buffer[] = [];
        for await (const chunk of await second.blobs.read(sha256(data))) chunks.push(chunk as Buffer);
        expect(Buffer.concat(chunks).equals(data)).to.equal(true);
      });
    }
  });
}
