/**
 * The shared suite of the metadata seam: every SqlDatabase adapter and the SqlMetadataStore
 * over it must pass it. Run by pglite.test.ts and postgres.test.ts.
 *
 * One store serves the whole suite; each test uses its own repository names, and the
 * catalog tests use names under "zzzz/", which sort after every other name used here.
 */
import { expect } from 'chai';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { NewManifest, SqlDatabase } from '../../src/metadata/store.ts';
import { InvalidInputError } from '../../src/metadata/errors.ts';
import { SqlMetadataStore } from '../../src/metadata/sql-store.ts';

export interface StoreFixture {
  db: SqlDatabase;
  store: SqlMetadataStore;
  /** Closes everything the fixture opened. */
  dispose(): Promise<void>;
}

let counter = 0;
/** A repository name no other test uses. */
export function uniqueRepository(prefix = 'suite'): string {
  counter += 1;
  return `${prefix}${counter}-${randomBytes(4).toString('hex')}/app`;
}

export function digestOf(content: Buffer | string): string {
  return 'sha256:' + createHash('sha256').update(content).digest('hex');
}

function manifest(repository: string, body: object, extra: Partial<NewManifest> = {}): NewManifest {
  const content = Buffer.from(JSON.stringify(body));
  return {
    repository,
    digest: digestOf(content),
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    content,
    references: { blobs: [], manifests: [] },
    ...extra,
  };
}

export function metadataStoreSuite(open: () => Promise<StoreFixture>): void {
  let fixture: StoreFixture;
  let db: SqlDatabase;
  let store: SqlMetadataStore;

  before(async function () {
    fixture = await open();
    db = fixture.db;
    store = fixture.store;
    await store.migrate();
  });

  after(async function () {
    await fixture?.dispose();
  });

  describe('SqlDatabase adapter', function () {
    it('returns bigint and numeric as numbers, bytea as Buffer, timestamptz as Date, jsonb parsed', async function () {
      const rows = await db.query<{ big: unknown; num: unknown; bytes: unknown; at: unknown; doc: unknown; int: unknown }>(
        `SELECT 5368709120::bigint AS big, 12.5::numeric AS num, '\\x00ff10'::bytea AS bytes,
                now() AS at, '{"a":[1,"x"]}'::jsonb AS doc, 7::integer AS int`,
      );
      const row = rows[0]!;
      expect(row.big).to.equal(5368709120);
      expect(row.num).to.equal(12.5);
      expect(row.int).to.equal(7);
      expect(Buffer.isBuffer(row.bytes)).to.equal(true);
      expect((row.bytes as Buffer).equals(Buffer.from([0x00, 0xff, 0x10]))).to.equal(true);
      expect(row.at).to.be.instanceOf(Date);
      expect(row.doc).to.deep.equal({ a: [1, 'x'] });
    });

    it('round-trips a Buffer parameter into bytea byte for byte', async function () {
      const bytes = randomBytes(70_000);
      const rows = await db.query<{ b: Buffer }>('SELECT $1::bytea AS b', [bytes]);
      expect(rows[0]!.b.equals(bytes)).to.equal(true);
    });

    it('runs prepared statements repeatedly, inside and outside transactions', async function () {
      for (let i = 0; i < 3; i++) {
        const rows = await db.query<{ n: number }>('SELECT $1::bigint + 1 AS n', [i], { prepare: true });
        expect(rows[0]!.n).to.equal(i + 1);
      }
      const n = await db.transaction(async (tx) => (await tx.query<{ n: number }>('SELECT $1::bigint + 1 AS n', [41], { prepare: true }))[0]!.n);
      expect(n).to.equal(42);
    });

    it('commits a transaction, rolls it back when work throws, and runs scripts', async function () {
      const table = `adapter_tx_${randomBytes(4).toString('hex')}`;
      await db.exec(`CREATE TABLE ${table} (id integer PRIMARY KEY); INSERT INTO ${table} VALUES (0);`);
      try {
        const result = await db.transaction(async (tx) => {
          await tx.query(`INSERT INTO ${table} VALUES ($1)`, [1]);
          return 'done';
        });
        expect(result).to.equal('done');
        let thrown: unknown;
        try {
          await db.transaction(async (tx) => {
            await tx.query(`INSERT INTO ${table} VALUES ($1)`, [2]);
            throw new Error('abort');
          });
        } catch (err) {
          thrown = err;
        }
        expect((thrown as Error).message).to.equal('abort');
        const rows = await db.query<{ id: number }>(`SELECT id FROM ${table} ORDER BY id`);
        expect(rows.map((r) => r.id)).to.deep.equal([0, 1]);
      } finally {
        await db.exec(`DROP TABLE ${table}`);
      }
    });

    it('keeps concurrent transactions apart: a rollback never undoes another transaction', async function () {
      const table = `adapter_iso_${randomBytes(4).toString('hex')}`;
      await db.exec(`CREATE TABLE ${table} (id integer PRIMARY KEY)`);
      try {
        const outcomes = await Promise.allSettled(
          Array.from({ length: 16 }, (_, i) =>
            db.transaction(async (tx) => {
              await tx.query(`INSERT INTO ${table} VALUES ($1)`, [i]);
              // Yield so other callers get a chance to interleave if nothing serializes them.
              await new Promise((resolve) => setTimeout(resolve, 1));
              await tx.query(`SELECT count(*) FROM ${table}`);
              if (i % 2 === 1) throw new Error(`abort ${i}`);
            }),
          ),
        );
        expect(outcomes.filter((o) => o.status === 'fulfilled')).to.have.length(8);
        const rows = await db.query<{ id: number }>(`SELECT id FROM ${table} ORDER BY id`);
        expect(rows.map((r) => r.id)).to.deep.equal([0, 2, 4, 6, 8, 10, 12, 14]);
      } finally {
        await db.exec(`DROP TABLE ${table}`);
      }
    });
  });

  describe('migrations', function () {
    it('are idempotent and recorded once each in schema_migrations', async function () {
      await store.migrate();
      await store.migrate();
      const rows = await db.query<{ version: number; count: number }>(
        'SELECT version, count(*)::bigint AS count FROM schema_migrations GROUP BY version ORDER BY version',
      );
      expect(rows.length).to.be.greaterThan(0);
      expect(rows[0]!.version).to.equal(1);
      for (const row of rows) expect(row.count).to.equal(1);
    });

    it('answers ping', async function () {
      await store.ping();
    });
  });

  describe('upload sessions', function () {
    it('records a session with the database clock, finds it by id, and ends it once', async function () {
      const id = randomUUID();
      const repository = uniqueRepository('upload');
      const before = Date.now();
      await store.createUploadSession({ id, repository });
      const found = await store.getUploadSession(id);
      expect(found).to.deep.include({ id, repository });
      expect(found?.algorithm).to.equal(undefined);
      expect(found?.startedAt).to.be.instanceOf(Date);
      expect(Math.abs(found!.startedAt.getTime() - before)).to.be.below(60_000);
      await store.createUploadSession({ id: randomUUID(), repository, algorithm: 'sha512' });
      expect(await store.deleteUploadSession(id)).to.equal(true);
      expect(await store.deleteUploadSession(id)).to.equal(false);
      expect(await store.getUploadSession(id)).to.equal(undefined);
      expect(await store.getUploadSession(randomUUID())).to.equal(undefined);
    });

    it('keeps the algorithm asked for and refuses a second session with the same id', async function () {
      const id = randomUUID();
      await store.createUploadSession({ id, repository: 'up/a', algorithm: 'sha512' });
      expect((await store.getUploadSession(id))?.algorithm).to.equal('sha512');
      let refused: unknown;
      await store.createUploadSession({ id, repository: 'up/b' }).catch((err: unknown) => (refused = err));
      expect(refused).to.be.instanceOf(Error);
      expect((await store.getUploadSession(id))?.repository).to.equal('up/a');
      await store.deleteUploadSession(id);
    });

    it('lists the sessions opened before a time, by id, page by page', async function () {
      const ids: string[] = Array.from({ length: 5 }, () => randomUUID()).sort();
      for (const id of ids) await store.createUploadSession({ id, repository: 'up/list' });
      const mine = (records: Array<{ id: string }>) => records.map((r) => r.id).filter((id) => ids.includes(id));
      expect(mine(await store.listUploadSessionsStartedBefore(new Date(Date.now() - 3_600_000), 100))).to.deep.equal([]);
      const later = new Date(Date.now() + 60_000);
      const seen: string[] = [];
      for (let after: string | undefined; ; ) {
        const page = await store.listUploadSessionsStartedBefore(later, 2, after);
        expect(page.length).to.be.at.most(2);
        const pageIds = page.map((r) => r.id);
        expect(pageIds).to.deep.equal([...pageIds].sort());
        seen.push(...pageIds);
        if (page.length < 2) break;
        after = page[page.length - 1]!.id;
      }
      expect(mine(seen.map((id) => ({ id })))).to.deep.equal(ids);
      expect(new Set(seen).size).to.equal(seen.length);
      for (const id of ids) await store.deleteUploadSession(id);
    });
  });

  describe('blobs', function () {
    it('returns undefined for an unknown blob', async function () {
      expect(await store.getBlob(digestOf('never pushed ' + Math.random()))).to.equal(undefined);
      expect(await store.getLinkedBlob(uniqueRepository(), digestOf('never pushed'))).to.equal(undefined);
    });

    it('records a blob, links it to its repository only, and creates the repository', async function () {
      const repo = uniqueRepository();
      const other = uniqueRepository();
      const blob = { digest: digestOf(randomBytes(16)), size: 5368709120 };
      await store.putBlob(repo, blob);
      expect(await store.getBlob(blob.digest)).to.deep.equal(blob);
      expect(await store.getLinkedBlob(repo, blob.digest)).to.deep.equal(blob);
      expect(await store.getLinkedBlob(other, blob.digest)).to.equal(undefined);
      expect(await store.listTags(repo, {})).to.deep.equal([]);
      expect(await store.listRepositories({ after: repo.slice(0, -1), limit: 1 })).to.deep.equal([repo]);
    });

    it('is idempotent and links one blob to several repositories', async function () {
      const a = uniqueRepository();
      const b = uniqueRepository();
      const blob = { digest: digestOf(randomBytes(16)), size: 42 };
      await store.putBlob(a, blob);
      await store.putBlob(a, blob);
      await store.putBlob(b, blob);
      expect(await store.getLinkedBlob(a, blob.digest)).to.deep.equal(blob);
      expect(await store.getLinkedBlob(b, blob.digest)).to.deep.equal(blob);
      const rows = await db.query<{ count: number }>('SELECT count(*)::bigint AS count FROM blobs WHERE digest = $1', [blob.digest]);
      expect(rows[0]!.count).to.equal(1);
    });

    it('unlinks a blob from one repository and keeps the blob row for GC', async function () {
      const a = uniqueRepository();
      const b = uniqueRepository();
      const blob = { digest: digestOf(randomBytes(16)), size: 7 };
      await store.putBlob(a, blob);
      await store.putBlob(b, blob);
      expect(await store.unlinkBlob(a, blob.digest)).to.equal(true);
      expect(await store.unlinkBlob(a, blob.digest)).to.equal(false);
      expect(await store.unlinkBlob(uniqueRepository(), blob.digest)).to.equal(false);
      expect(await store.getLinkedBlob(a, blob.digest)).to.equal(undefined);
      expect(await store.getLinkedBlob(b, blob.digest)).to.deep.equal(blob);
      expect(await store.unlinkBlob(b, blob.digest)).to.equal(true);
      expect(await store.getBlob(blob.digest)).to.deep.equal(blob);
    });

    it('accepts the same blob pushed in parallel, into one and into many repositories', async function () {
      const repo = uniqueRepository();
      const repos = Array.from({ length: 5 }, () => uniqueRepository());
      const blob = { digest: digestOf(randomBytes(16)), size: 1024 };
      await Promise.all([
        ...Array.from({ length: 10 }, () => store.putBlob(repo, blob)),
        ...repos.map((r) => store.putBlob(r, blob)),
      ]);
      for (const r of [repo, ...repos]) expect(await store.getLinkedBlob(r, blob.digest)).to.deep.equal(blob);
      const rows = await db.query<{ count: number }>(
        `SELECT count(*)::bigint AS count FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id
          WHERE r.name = $1`,
        [repo],
      );
      expect(rows[0]!.count).to.equal(1);
    });

    it('creates one repository when many pushes to a new repository race', async function () {
      const repo = uniqueRepository();
      await Promise.all(
        Array.from({ length: 8 }, (_, i) => store.putBlob(repo, { digest: digestOf(`race ${repo} ${i}`), size: i })),
      );
      const rows = await db.query<{ count: number }>('SELECT count(*)::bigint AS count FROM repositories WHERE name = $1', [repo]);
      expect(rows[0]!.count).to.equal(1);
      for (let i = 0; i < 8; i++) {
        expect(await store.getLinkedBlob(repo, digestOf(`race ${repo} ${i}`))).to.deep.equal({ digest: digestOf(`race ${repo} ${i}`), size: i });
      }
    });
  });

  describe('manifests and tags', function () {
    it('stores a manifest with its exact bytes and derived fields', async function () {
      const repo = uniqueRepository();
      const config = digestOf('config ' + repo);
      const layer = digestOf('layer ' + repo);
      const m = manifest(repo, { schemaVersion: 2, config, layers: [layer] }, { references: { blobs: [config, layer], manifests: [] } });
      const before = Date.now();
      await store.putManifest(m, ['v1']);
      const record = await store.getManifest(repo, m.digest);
      expect(record).to.not.equal(undefined);
      expect(record!.repository).to.equal(repo);
      expect(record!.digest).to.equal(m.digest);
      expect(record!.mediaType).to.equal(m.mediaType);
      expect(record!.size).to.equal(m.content.length);
      expect(Buffer.isBuffer(record!.content)).to.equal(true);
      expect(record!.content.equals(m.content)).to.equal(true);
      expect(record!.createdAt).to.be.instanceOf(Date);
      expect(Math.abs(record!.createdAt.getTime() - before)).to.be.lessThan(60_000);
      expect(record).to.not.have.property('artifactType');
      expect(record).to.not.have.property('subject');
      expect(record).to.not.have.property('annotations');
      expect(await store.resolveTag(repo, 'v1')).to.equal(m.digest);
      const refs = await db.query<{ child_digest: string; child_kind: string }>(
        `SELECT child_digest, child_kind FROM manifest_references mr JOIN repositories r ON r.id = mr.repository_id
          WHERE r.name = $1 AND mr.manifest_digest = $2 ORDER BY child_digest`,
        [repo, m.digest],
      );
      expect(refs).to.deep.equal([config, layer].sort().map((d) => ({ child_digest: d, child_kind: 'blob' })));
    });

    it('keeps artifactType, subject and annotations', async function () {
      const repo = uniqueRepository();
      const subject = digestOf('subject ' + repo);
      const m = manifest(repo, { sig: 1 }, { artifactType: 'application/vnd.example.sig', subject, annotations: { 'org.example': 'v', 'a.b': '' } });
      await store.putManifest(m, []);
      const record = await store.getManifest(repo, m.digest);
      expect(record!.artifactType).to.equal('application/vnd.example.sig');
      expect(record!.subject).to.equal(subject);
      expect(record!.annotations).to.deep.equal({ 'org.example': 'v', 'a.b': '' });
    });

    it('round-trips a 4 MiB manifest with every byte value', async function () {
      const repo = uniqueRepository();
      const content = randomBytes(4 * 1024 * 1024);
      content[0] = 0;
      content[1] = 0xff;
      const m: NewManifest = { repository: repo, digest: digestOf(content), mediaType: 'application/octet-stream', content, references: { blobs: [], manifests: [] } };
      await store.putManifest(m, ['big']);
      const record = await store.getManifest(repo, m.digest);
      expect(record!.size).to.equal(content.length);
      expect(record!.content.equals(content)).to.equal(true);
    });

    it('answers undefined for unknown manifests, tags and other repositories', async function () {
      const repo = uniqueRepository();
      const m = manifest(repo, { a: 1 });
      await store.putManifest(m, ['t']);
      expect(await store.getManifest(repo, digestOf('other'))).to.equal(undefined);
      expect(await store.getManifest(uniqueRepository(), m.digest)).to.equal(undefined);
      expect(await store.resolveTag(repo, 'missing')).to.equal(undefined);
      expect(await store.resolveTag(uniqueRepository(), 't')).to.equal(undefined);
    });

    it('is idempotent: pushing the same manifest again changes nothing but its tags', async function () {
      const repo = uniqueRepository();
      const child = digestOf('child ' + repo);
      const m = manifest(repo, { idem: repo }, { mediaType: 'application/vnd.oci.image.index.v1+json', references: { blobs: [], manifests: [child] } });
      await store.putManifest(m, ['one']);
      const first = await store.getManifest(repo, m.digest);
      await store.putManifest(m, ['one']);
      await store.putManifest(m, ['two', 'two']);
      const second = await store.getManifest(repo, m.digest);
      expect(second).to.deep.equal(first);
      expect(await store.listTags(repo, {})).to.deep.equal(['one', 'two']);
      const refs = await db.query<{ count: number }>(
        `SELECT count(*)::bigint AS count FROM manifest_references mr JOIN repositories r ON r.id = mr.repository_id
          WHERE r.name = $1 AND mr.child_kind = 'manifest'`,
        [repo],
      );
      expect(refs[0]!.count).to.equal(1);
    });

    it('records a blob referenced twice (config equal to a layer) once', async function () {
      const repo = uniqueRepository();
      const empty = digestOf('{}');
      const m = manifest(repo, { twice: true }, { references: { blobs: [empty, empty], manifests: [] } });
      await store.putManifest(m, []);
      const refs = await db.query<{ count: number }>(
        `SELECT count(*)::bigint AS count FROM manifest_references mr JOIN repositories r ON r.id = mr.repository_id WHERE r.name = $1`,
        [repo],
      );
      expect(refs[0]!.count).to.equal(1);
    });

    it('moves a tag to a newer manifest and keeps the old manifest', async function () {
      const repo = uniqueRepository();
      const m1 = manifest(repo, { n: 1 });
      const m2 = manifest(repo, { n: 2 });
      await store.putManifest(m1, ['latest', 'v1']);
      await store.putManifest(m2, ['latest']);
      expect(await store.resolveTag(repo, 'latest')).to.equal(m2.digest);
      expect(await store.resolveTag(repo, 'v1')).to.equal(m1.digest);
      expect(await store.getManifest(repo, m1.digest)).to.not.equal(undefined);
      expect(await store.listTags(repo, {})).to.deep.equal(['latest', 'v1']);
    });

    it('tags a manifest that was first pushed by digest', async function () {
      const repo = uniqueRepository();
      const m = manifest(repo, { untagged: true });
      await store.putManifest(m, []);
      expect(await store.listTags(repo, {})).to.deep.equal([]);
      await store.putManifest(m, ['later']);
      expect(await store.resolveTag(repo, 'later')).to.equal(m.digest);
    });

    it('deletes a manifest with every tag pointing to it and its references, not other tags', async function () {
      const repo = uniqueRepository();
      const blob = digestOf('layer ' + repo);
      const m1 = manifest(repo, { del: 1 }, { references: { blobs: [blob], manifests: [] } });
      const m2 = manifest(repo, { del: 2 });
      await store.putManifest(m1, ['a', 'b']);
      await store.putManifest(m2, ['c']);
      expect(await store.deleteManifest(repo, m1.digest)).to.equal(true);
      expect(await store.deleteManifest(repo, m1.digest)).to.equal(false);
      expect(await store.deleteManifest(uniqueRepository(), m2.digest)).to.equal(false);
      expect(await store.getManifest(repo, m1.digest)).to.equal(undefined);
      expect(await store.resolveTag(repo, 'a')).to.equal(undefined);
      expect(await store.resolveTag(repo, 'b')).to.equal(undefined);
      expect(await store.resolveTag(repo, 'c')).to.equal(m2.digest);
      expect(await store.listTags(repo, {})).to.deep.equal(['c']);
      const refs = await db.query<{ count: number }>(
        'SELECT count(*)::bigint AS count FROM manifest_references WHERE manifest_digest = $1',
        [m1.digest],
      );
      expect(refs[0]!.count).to.equal(0);
    });

    it('deletes one tag and keeps its manifest', async function () {
      const repo = uniqueRepository();
      const m = manifest(repo, { tagdel: 1 });
      await store.putManifest(m, ['x', 'y']);
      expect(await store.deleteTag(repo, 'x')).to.equal(true);
      expect(await store.deleteTag(repo, 'x')).to.equal(false);
      expect(await store.deleteTag(uniqueRepository(), 'y')).to.equal(false);
      expect(await store.resolveTag(repo, 'x')).to.equal(undefined);
      expect(await store.resolveTag(repo, 'y')).to.equal(m.digest);
      expect(await store.getManifest(repo, m.digest)).to.not.equal(undefined);
    });

    it('keeps the same digest in two repositories independent', async function () {
      const a = uniqueRepository();
      const b = uniqueRepository();
      const body = { shared: a + b };
      await store.putManifest(manifest(a, body), ['t']);
      await store.putManifest(manifest(b, body), ['t']);
      const digest = manifest(a, body).digest;
      expect(await store.deleteManifest(a, digest)).to.equal(true);
      expect(await store.getManifest(b, digest)).to.not.equal(undefined);
      expect(await store.resolveTag(b, 't')).to.equal(digest);
    });

    it('accepts parallel pushes to one repository, racing for the same tag', async function () {
      const repo = uniqueRepository();
      const manifests = Array.from({ length: 10 }, (_, i) => manifest(repo, { parallel: i }));
      await Promise.all(manifests.map((m, i) => store.putManifest(m, ['latest', `v${i}`, 'shared'])));
      for (const [i, m] of manifests.entries()) {
        expect(await store.getManifest(repo, m.digest)).to.not.equal(undefined);
        expect(await store.resolveTag(repo, `v${i}`)).to.equal(m.digest);
      }
      const digests = manifests.map((m) => m.digest);
      expect(digests).to.include(await store.resolveTag(repo, 'latest'));
      expect(digests).to.include(await store.resolveTag(repo, 'shared'));
      expect(await store.listTags(repo, {})).to.have.length(12);
    });

    it('accepts the same manifest pushed in parallel', async function () {
      const repo = uniqueRepository();
      const m = manifest(repo, { same: true }, { references: { blobs: [digestOf('l ' + repo)], manifests: [] } });
      await Promise.all(Array.from({ length: 8 }, () => store.putManifest(m, ['same'])));
      const rows = await db.query<{ count: number }>(
        `SELECT count(*)::bigint AS count FROM manifests m JOIN repositories r ON r.id = m.repository_id WHERE r.name = $1`,
        [repo],
      );
      expect(rows[0]!.count).to.equal(1);
      expect(await store.resolveTag(repo, 'same')).to.equal(m.digest);
    });
  });

  describe('tag list pagination', function () {
    let repo: string;
    // Bytewise order: upper case, then '_', then lower case; '-' and '.' before digits.
    const tags = ['v1.0', 'latest', 'V2', '_x', 'a-b', 'a.b', 'a0'];
    const sorted = ['V2', '_x', 'a-b', 'a.b', 'a0', 'latest', 'v1.0'];

    before(async function () {
      repo = uniqueRepository();
      await store.putManifest(manifest(repo, { tags: true }), tags);
    });

    it('lists every tag in bytewise lexical order', async function () {
      expect(await store.listTags(repo, {})).to.deep.equal(sorted);
    });

    it('returns undefined for an unknown repository', async function () {
      expect(await store.listTags(uniqueRepository(), {})).to.equal(undefined);
      expect(await store.listTags(uniqueRepository(), { limit: 0 })).to.equal(undefined);
    });

    it('returns [] for n=0', async function () {
      expect(await store.listTags(repo, { limit: 0 })).to.deep.equal([]);
    });

    it('pages with limit and exclusive after until the exact end', async function () {
      const pages: string[][] = [];
      let after: string | undefined;
      for (;;) {
        const page = await store.listTags(repo, after === undefined ? { limit: 3 } : { limit: 3, after });
        expect(page).to.not.equal(undefined);
        if (page!.length === 0) break;
        pages.push(page!);
        after = page![page!.length - 1];
      }
      expect(pages).to.deep.equal([sorted.slice(0, 3), sorted.slice(3, 6), sorted.slice(6)]);
    });

    it('ends exactly at the last tag', async function () {
      expect(await store.listTags(repo, { after: sorted[4], limit: 2 })).to.deep.equal(sorted.slice(5, 7));
      expect(await store.listTags(repo, { after: sorted[6], limit: 2 })).to.deep.equal([]);
    });

    it('accepts an after that is not a tag, and one beyond the end', async function () {
      expect(await store.listTags(repo, { after: 'a' })).to.deep.equal(['a-b', 'a.b', 'a0', 'latest', 'v1.0']);
      expect(await store.listTags(repo, { after: '~beyond' })).to.deep.equal([]);
      expect(await store.listTags(repo, { after: 'zzz', limit: 5 })).to.deep.equal([]);
    });

    it('returns everything after `after` when the limit exceeds what is left', async function () {
      expect(await store.listTags(repo, { after: 'a0', limit: 100 })).to.deep.equal(['latest', 'v1.0']);
    });

    it('rejects a negative limit', async function () {
      let thrown: unknown;
      try {
        await store.listTags(repo, { limit: -1 });
      } catch (err) {
        thrown = err;
      }
      expect(thrown).to.be.instanceOf(RangeError);
    });
  });

  describe('catalog pagination', function () {
    // "zzzz/..." sorts after every other repository this suite creates.
    const names = ['zzzz/a', 'zzzz/b/c', 'zzzz/b-c', 'zzzz/c'];
    const sorted = ['zzzz/a', 'zzzz/b-c', 'zzzz/b/c', 'zzzz/c'];

    before(async function () {
      for (const name of names) await store.putBlob(name, { digest: digestOf('catalog'), size: 7 });
    });

    it('lists repositories in bytewise lexical order', async function () {
      const all = await store.listRepositories({});
      expect(all.slice(-4)).to.deep.equal(sorted);
      expect([...all].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0))).to.deep.equal(all);
    });

    it('pages with limit and exclusive after', async function () {
      expect(await store.listRepositories({ after: 'zzzz/', limit: 2 })).to.deep.equal(sorted.slice(0, 2));
      expect(await store.listRepositories({ after: sorted[1], limit: 2 })).to.deep.equal(sorted.slice(2, 4));
    });

    it('handles n=0, the exact end and an after beyond the end', async function () {
      expect(await store.listRepositories({ limit: 0 })).to.deep.equal([]);
      expect(await store.listRepositories({ after: sorted[3], limit: 10 })).to.deep.equal([]);
      expect(await store.listRepositories({ after: 'zzzz/zzzz' })).to.deep.equal([]);
      expect(await store.listRepositories({ after: sorted[2] })).to.deep.equal([sorted[3]]);
    });

    it('returns the first page from the start', async function () {
      const all = await store.listRepositories({});
      expect(await store.listRepositories({ limit: 2 })).to.deep.equal(all.slice(0, 2));
    });
  });

  describe('referrers', function () {
    it('lists manifests whose subject is the digest, filtered by artifactType', async function () {
      const repo = uniqueRepository();
      const subjectManifest = manifest(repo, { image: true });
      await store.putManifest(subjectManifest, ['v1']);
      const subject = subjectManifest.digest;
      const sig = manifest(repo, { sig: 1 }, { subject, artifactType: 'application/vnd.example.sig', annotations: { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' } });
      const sbom = manifest(repo, { sbom: 1 }, { subject, artifactType: 'application/spdx+json' });
      const unrelated = manifest(repo, { other: 1 }, { subject: digestOf('another subject'), artifactType: 'application/vnd.example.sig' });
      const otherRepo = uniqueRepository();
      await store.putManifest(sig, []);
      await store.putManifest(sbom, []);
      await store.putManifest(unrelated, []);
      await store.putManifest(manifest(otherRepo, { sig: 'elsewhere' }, { subject, artifactType: 'application/vnd.example.sig' }), []);

      const all = await store.listReferrers(repo, subject);
      expect(all).to.have.length(2);
      expect(all.map((d) => d.digest).sort()).to.deep.equal([sig.digest, sbom.digest].sort());
      const sigDescriptor = all.find((d) => d.digest === sig.digest)!;
      expect(sigDescriptor).to.deep.equal({
        mediaType: sig.mediaType,
        digest: sig.digest,
        size: sig.content.length,
        artifactType: 'application/vnd.example.sig',
        annotations: { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' },
      });
      expect(all.find((d) => d.digest === sbom.digest)).to.not.have.property('annotations');

      expect((await store.listReferrers(repo, subject, 'application/vnd.example.sig')).map((d) => d.digest)).to.deep.equal([sig.digest]);
      expect(await store.listReferrers(repo, subject, 'application/none')).to.deep.equal([]);
      expect(await store.listReferrers(uniqueRepository(), subject)).to.deep.equal([]);
    });

    it('lists referrers pushed before their subject, and drops a deleted referrer', async function () {
      const repo = uniqueRepository();
      const subject = digestOf('not pushed yet ' + repo);
      const a = manifest(repo, { a: 1 }, { subject, artifactType: 'x/a' });
      const b = manifest(repo, { b: 1 }, { subject, artifactType: 'x/b' });
      await store.putManifest(a, []);
      await store.putManifest(b, []);
      expect((await store.listReferrers(repo, subject)).map((d) => d.digest).sort()).to.deep.equal([a.digest, b.digest].sort());
      await store.deleteManifest(repo, a.digest);
      expect((await store.listReferrers(repo, subject)).map((d) => d.digest)).to.deep.equal([b.digest]);
    });
  });

  describe('tags by API and pull times', function () {
    it('points a tag at a stored manifest, moving it, and refuses unknown manifests', async function () {
      const repo = uniqueRepository();
      const one = manifest(repo, { one: 1 });
      const two = manifest(repo, { two: 2 });
      await store.putManifest(one, ['v1']);
      await store.putManifest(two, []);
      expect(await store.tagManifest(repo, 'stable', one.digest)).to.equal(true);
      expect(await store.resolveTag(repo, 'stable')).to.equal(one.digest);
      expect(await store.tagManifest(repo, 'stable', two.digest)).to.equal(true);
      expect(await store.resolveTag(repo, 'stable')).to.equal(two.digest);
      expect(await store.tagManifest(repo, 'stable', digestOf('unknown'))).to.equal(false);
      expect(await store.resolveTag(repo, 'stable')).to.equal(two.digest);
      expect(await store.tagManifest(uniqueRepository(), 'v1', one.digest)).to.equal(false);
      expect(await store.listTags(repo, {})).to.deep.equal(['stable', 'v1']);
    });

    it('records pulls of a manifest and of the tag it was pulled through', async function () {
      const repo = uniqueRepository();
      const image = manifest(repo, { pulled: true });
      await store.putManifest(image, ['a', 'b']);
      expect((await store.getArtifact(repo, image.digest))!.pulledAt).to.equal(null);
      await store.recordPull(repo, image.digest, 'a');
      const artifact = (await store.getArtifact(repo, image.digest))!;
      expect(artifact.pulledAt).to.be.instanceOf(Date);
      expect(artifact.tags.map((t) => [t.name, t.pulledAt === null])).to.deep.equal([
        ['a', false],
        ['b', true],
      ]);
      // A tag that names another manifest is not touched; unknown names are ignored.
      await store.recordPull(repo, digestOf('other'), 'b');
      await store.recordPull(uniqueRepository(), image.digest);
      expect((await store.getArtifact(repo, image.digest))!.tags[1]!.pulledAt).to.equal(null);
    });
  });

  describe('management listings', function () {
    let projectCounter = 0;
    const uniqueProject = () => `mgmt${++projectCounter}-${randomBytes(4).toString('hex')}`;

    it("lists a project's repositories with artifact counts, filters and pages", async function () {
      const project = uniqueProject();
      await store.putManifest(manifest(`${project}/web`, { w: 1 }), ['v1']);
      await store.putManifest(manifest(`${project}/web`, { w: 2 }), []);
      await store.putBlob(`${project}/tools/cli`, { digest: digestOf(project), size: 1 });
      await store.putBlob(`${project}/api`, { digest: digestOf(project), size: 1 });
      await store.putBlob(`${project}x/other`, { digest: digestOf(project), size: 1 });

      const all = await store.listProjectRepositories(project, {}, { page: 1, pageSize: 10 });
      expect(all.total).to.equal(3);
      expect(all.items.map((r) => [r.name, r.project, r.artifactCount])).to.deep.equal([
        [`${project}/api`, project, 0],
        [`${project}/tools/cli`, project, 0],
        [`${project}/web`, project, 2],
      ]);
      const web = all.items[2]!;
      expect(web.updatedAt.getTime()).to.be.at.least(web.createdAt.getTime());
      const api = all.items[0]!;
      expect(api.updatedAt.getTime()).to.equal(api.createdAt.getTime());

      const second = await store.listProjectRepositories(project, {}, { page: 2, pageSize: 2 });
      expect(second).to.deep.include({ total: 3 });
      expect(second.items.map((r) => r.name)).to.deep.equal([`${project}/web`]);
      const filtered = await store.listProjectRepositories(project, { name: 'tools' }, { page: 1, pageSize: 10 });
      expect(filtered.items.map((r) => r.name)).to.deep.equal([`${project}/tools/cli`]);
      expect(await store.listProjectRepositories(uniqueProject(), {}, { page: 1, pageSize: 10 })).to.deep.equal({ items: [], total: 0 });
      expect(await store.getRepository(`${project}/web`)).to.deep.equal(web);
      expect(await store.getRepository(`${project}/none`)).to.equal(undefined);

      let thrown: unknown;
      try {
        await store.listProjectRepositories(project, {}, { page: 0, pageSize: 10 });
      } catch (err) {
        thrown = err;
      }
      expect(thrown).to.be.instanceOf(InvalidInputError);
    });

    it('deletes a repository with its manifests, tags and links, keeping blob rows', async function () {
      const repo = `${uniqueProject()}/gone`;
      const blob = { digest: digestOf(repo), size: 9 };
      await store.putBlob(repo, blob);
      const image = manifest(repo, { gone: 1 }, { references: { blobs: [blob.digest], manifests: [] } });
      await store.putManifest(image, ['v1']);
      expect(await store.deleteRepository(repo)).to.equal(true);
      expect(await store.getRepository(repo)).to.equal(undefined);
      expect(await store.resolveTag(repo, 'v1')).to.equal(undefined);
      expect(await store.getManifest(repo, image.digest)).to.equal(undefined);
      expect(await store.getLinkedBlob(repo, blob.digest)).to.equal(undefined);
      expect(await store.getBlob(blob.digest)).to.deep.equal(blob);
      expect(await store.deleteRepository(repo)).to.equal(false);
      // Pushing again starts a fresh repository.
      await store.putManifest(image, []);
      expect(await store.listTags(repo, {})).to.deep.equal([]);
    });

    it('lists artifacts newest first with tags and index children, filtered by tagged', async function () {
      const repo = `${uniqueProject()}/app`;
      const amd = manifest(repo, { arch: 'amd64' });
      const arm = manifest(repo, { arch: 'arm64' });
      await store.putManifest(amd, []);
      await store.putManifest(arm, ['arm']);
      const index = manifest(repo, { index: true }, {
        mediaType: 'application/vnd.oci.image.index.v1+json',
        annotations: { a: 'b' },
        references: { blobs: [], manifests: [arm.digest, amd.digest] },
      });
      await store.putManifest(index, ['latest', 'v1']);
      const sig = manifest(repo, { sig: true }, { subject: index.digest, artifactType: 'application/vnd.example.sig' });
      await store.putManifest(sig, []);

      const all = (await store.listArtifacts(repo, {}, { page: 1, pageSize: 10 }))!;
      expect(all.total).to.equal(4);
      expect(all.items.map((a) => a.digest)).to.deep.equal([sig.digest, index.digest, arm.digest, amd.digest]);
      const indexArtifact = all.items[1]!;
      expect(indexArtifact).to.deep.include({
        repository: repo,
        digest: index.digest,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        size: index.content.length,
        annotations: { a: 'b' },
        children: [arm.digest, amd.digest].sort(),
        pulledAt: null,
      });
      expect(indexArtifact.pushedAt).to.be.instanceOf(Date);
      expect(indexArtifact.tags.map((t) => t.name)).to.deep.equal(['latest', 'v1']);
      for (const tag of indexArtifact.tags) {
        expect(tag.pushedAt).to.be.instanceOf(Date);
        expect(Number.isNaN(tag.pushedAt.getTime())).to.equal(false);
        expect(Math.abs(tag.pushedAt.getTime() - indexArtifact.pushedAt.getTime())).to.be.below(60_000);
        expect(tag.pulledAt).to.equal(null);
      }
      expect(all.items[0]).to.deep.include({ subject: index.digest, artifactType: 'application/vnd.example.sig', tags: [], children: [] });
      expect(all.items[0]).to.not.have.property('annotations');

      const tagged = (await store.listArtifacts(repo, { tagged: true }, { page: 1, pageSize: 10 }))!;
      expect(tagged.items.map((a) => a.digest)).to.deep.equal([index.digest, arm.digest]);
      const untagged = (await store.listArtifacts(repo, { tagged: false }, { page: 2, pageSize: 1 }))!;
      expect(untagged.total).to.equal(2);
      expect(untagged.items.map((a) => a.digest)).to.deep.equal([amd.digest]);

      expect(await store.getArtifact(repo, index.digest)).to.deep.equal(indexArtifact);
      expect(await store.getArtifact(repo, digestOf('none'))).to.equal(undefined);
      expect(await store.listArtifacts(`${uniqueProject()}/none`, {}, { page: 1, pageSize: 10 })).to.equal(undefined);
      const blobOnly = `${uniqueProject()}/blobs`;
      await store.putBlob(blobOnly, { digest: digestOf(blobOnly), size: 1 });
      expect(await store.listArtifacts(blobOnly, {}, { page: 1, pageSize: 10 })).to.deep.equal({ items: [], total: 0 });
    });
  });
}
