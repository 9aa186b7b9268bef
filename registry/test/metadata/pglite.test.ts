import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMigrations, migrate } from '../../src/metadata/migrations.ts';
import { lockDataDirectory, PGliteDatabase } from '../../src/metadata/pglite.ts';
import { SqlMetadataStore } from '../../src/metadata/sql-store.ts';
import { digestOf, metadataStoreSuite } from './store-suite.ts';

describe('metadata store: PGlite in memory', function () {
  metadataStoreSuite(async () => {
    const db = await PGliteDatabase.open({});
    return { db, store: new SqlMetadataStore(db), dispose: () => db.close() };
  });
});

describe('metadata store: PGlite on a data directory', function () {
  let directory: string;

  before(async function () {
    directory = await mkdtemp(join(tmpdir(), 'berth-pglite-'));
  });

  after(async function () {
    await rm(directory, { recursive: true, force: true });
  });

  metadataStoreSuite(async () => {
    const db = await PGliteDatabase.open({ dataDirectory: join(directory, 'suite') });
    return { db, store: new SqlMetadataStore(db), dispose: () => db.close() };
  });

  it('keeps data across close and reopen, and migrates nothing twice', async function () {
    const dataDirectory = join(directory, 'reopen');
    const first = new SqlMetadataStore(await PGliteDatabase.open({ dataDirectory }));
    await first.migrate();
    const content = Buffer.from('{"schemaVersion":2}');
    const digest = digestOf(content);
    await first.putBlob('library/kept', { digest: digestOf('layer'), size: 5 });
    await first.putManifest(
      { repository: 'library/kept', digest, mediaType: 'application/vnd.oci.image.manifest.v1+json', content, references: { blobs: [digestOf('layer')], manifests: [] } },
      ['v1'],
    );
    await first.close();

    const db = await PGliteDatabase.open({ dataDirectory });
    try {
      expect(await migrate(db)).to.deep.equal([]);
      const second = new SqlMetadataStore(db);
      expect(await second.resolveTag('library/kept', 'v1')).to.equal(digest);
      expect((await second.getManifest('library/kept', digest))!.content.equals(content)).to.equal(true);
      expect(await second.getLinkedBlob('library/kept', digestOf('layer'))).to.deep.equal({ digest: digestOf('layer'), size: 5 });
    } finally {
      await db.close();
    }
  });
});

describe('PGlite data directory lock', function () {
  let directory: string;

  beforeEach(async function () {
    directory = await mkdtemp(join(tmpdir(), 'berth-pglite-lock-'));
  });

  afterEach(async function () {
    await rm(directory, { recursive: true, force: true });
  });

  async function openError(dataDirectory: string): Promise<Error | undefined> {
    try {
      const db = await PGliteDatabase.open({ dataDirectory });
      await db.close();
      return undefined;
    } catch (err) {
      return err as Error;
    }
  }

  it('refuses a second open while the first is open, and allows it after close', async function () {
    const first = await PGliteDatabase.open({ dataDirectory: directory });
    try {
      expect((await readFile(join(directory, 'berth.pid'), 'utf8')).split(' ')[0]).to.equal(String(process.pid));
      expect((await openError(directory))?.message).to.match(/is in use by process \d+/);
    } finally {
      await first.close();
    }
    expect(await openError(directory)).to.equal(undefined);
  });

  async function lockError(dataDirectory: string): Promise<Error | undefined> {
    try {
      await (await lockDataDirectory(dataDirectory))();
      return undefined;
    } catch (err) {
      return err as Error;
    }
  }

  it('refuses a directory held by another live process', async function () {
    await writeFile(join(directory, 'berth.pid'), `${process.ppid} 0\n`);
    expect((await lockError(directory))?.message).to.match(new RegExp(`in use by process ${process.ppid}`));
  });

  it('takes over a lock left by a process that died, or by an earlier process with our pid', async function () {
    const dead = spawnSync('true');
    expect(dead.pid).to.be.a('number');
    await writeFile(join(directory, 'berth.pid'), `${dead.pid} 0\n`);
    expect(await lockError(directory)).to.equal(undefined);
    await writeFile(join(directory, 'berth.pid'), `${process.pid} 12345\n`);
    const release = await lockDataDirectory(directory);
    expect((await readFile(join(directory, 'berth.pid'), 'utf8')).split(' ')[0]).to.equal(String(process.pid));
    expect((await lockError(directory))?.message).to.match(/in use/);
    await release();
    expect(await lockError(directory)).to.equal(undefined);
  });
});

describe('migrations (PGlite)', function () {
  it('applies every shipped migration once, in order', async function () {
    const db = await PGliteDatabase.open({});
    try {
      const shipped = await loadMigrations();
      expect(shipped.map((m) => m.version)).to.deep.equal([...shipped.map((m) => m.version)].sort((a, b) => a - b));
      expect(await migrate(db)).to.deep.equal(shipped.map((m) => m.version));
      expect(await migrate(db)).to.deep.equal([]);
    } finally {
      await db.close();
    }
  });

  it('refuses to start when an applied migration was edited, and rolls back a failing one', async function () {
    const db = await PGliteDatabase.open({});
    try {
      await migrate(db, [{ version: 1, name: 'one', sql: 'CREATE TABLE one (id integer)' }]);
      let thrown: unknown;
      try {
        await migrate(db, [{ version: 1, name: 'one', sql: 'CREATE TABLE one (id bigint)' }]);
      } catch (err) {
        thrown = err;
      }
      expect((thrown as Error).message).to.match(/was changed after it was applied/);

      thrown = undefined;
      try {
        await migrate(db, [
          { version: 1, name: 'one', sql: 'CREATE TABLE one (id integer)' },
          { version: 2, name: 'two', sql: 'CREATE TABLE two (id integer)' },
          { version: 3, name: 'broken', sql: 'CREATE TABLE three (id no_such_type)' },
        ]);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).to.be.instanceOf(Error);
      const versions = await db.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
      expect(versions.map((v) => v.version)).to.deep.equal([1]);
      const two = await db.query("SELECT 1 FROM pg_tables WHERE tablename = 'two'");
      expect(two).to.deep.equal([]);
    } finally {
      await db.close();
    }
  });
});
