import { expect } from 'chai';
import pg from 'pg';
import { loadMigrations, migrate } from '../../src/metadata/migrations.ts';
import { PostgresDatabase } from '../../src/metadata/postgres.ts';
import { SqlMetadataStore } from '../../src/metadata/sql-store.ts';
import { freshDatabase, type FreshDatabase } from './fresh-database.ts';
import { metadataStoreSuite } from './store-suite.ts';

describe('metadata store: PostgreSQL', function () {
  metadataStoreSuite(async () => {
    const database = await freshDatabase();
    const db = new PostgresDatabase({ url: database.url, poolSize: 8 });
    return {
      db,
      store: new SqlMetadataStore(db),
      async dispose() {
        await db.close();
        await database.drop();
      },
    };
  });
});

describe('PostgreSQL specifics', function () {
  let database: FreshDatabase;

  beforeEach(async function () {
    database = await freshDatabase();
  });

  afterEach(async function () {
    await database.drop();
  });

  it('applies each migration once when several replicas migrate together', async function () {
    const replicas = Array.from({ length: 4 }, () => new PostgresDatabase({ url: database.url, poolSize: 2 }));
    try {
      const applied = await Promise.all(replicas.map((db) => migrate(db)));
      const versions = (await loadMigrations()).map((m) => m.version);
      expect(applied.flat().sort((a, b) => a - b)).to.deep.equal(versions);
      expect(applied.filter((list) => list.length > 0)).to.have.length(1);
      const rows = await replicas[0]!.query<{ version: number; count: number }>(
        'SELECT version, count(*)::bigint AS count FROM schema_migrations GROUP BY version ORDER BY version',
      );
      expect(rows).to.deep.equal(versions.map((version) => ({ version, count: 1 })));
      // Every replica sees a usable schema.
      await Promise.all(replicas.map((db) => new SqlMetadataStore(db).listRepositories({})));
    } finally {
      await Promise.all(replicas.map((db) => db.close()));
    }
  });

  it('migrates through SqlMetadataStore.migrate() from two stores at once', async function () {
    const a = new SqlMetadataStore(new PostgresDatabase({ url: database.url }));
    const b = new SqlMetadataStore(new PostgresDatabase({ url: database.url }));
    try {
      await Promise.all([a.migrate(), b.migrate()]);
      await a.putBlob('library/x', { digest: 'sha256:' + 'a'.repeat(64), size: 1 });
      expect(await b.getLinkedBlob('library/x', 'sha256:' + 'a'.repeat(64))).to.deep.equal({ digest: 'sha256:' + 'a'.repeat(64), size: 1 });
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('keeps hot-path statements prepared on the connection', async function () {
    const db = new PostgresDatabase({ url: database.url, poolSize: 1 });
    try {
      await db.query('SELECT $1::text AS v', ['x'], { prepare: true });
      const rows = await db.query<{ statement: string }>(
        "SELECT statement FROM pg_prepared_statements WHERE name LIKE 'berth_%'",
      );
      expect(rows.map((r) => r.statement)).to.include('SELECT $1::text AS v');
      const names = await db.query<{ name: string }>('SELECT application_name AS name FROM pg_stat_activity WHERE pid = pg_backend_pid()');
      expect(names).to.deep.equal([{ name: 'berth' }]);
    } finally {
      await db.close();
    }
  });

  it('parses int8 as a number for its own pool only, not for every pg user', async function () {
    const db = new PostgresDatabase({ url: database.url });
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      expect((await db.query<{ n: unknown }>('SELECT 9007199254740991::bigint AS n'))[0]!.n).to.equal(9007199254740991);
      expect((await client.query('SELECT 5::bigint AS n')).rows[0].n).to.equal('5');
    } finally {
      await client.end();
      await db.close();
    }
  });

  it('fails a query with a clear error when the server refuses the credentials', async function () {
    const url = new URL(database.url);
    url.password = 'wrong-password';
    const db = new PostgresDatabase({ url: url.toString() });
    try {
      let thrown: unknown;
      try {
        await db.query('SELECT 1');
      } catch (err) {
        thrown = err;
      }
      expect((thrown as Error).message).to.match(/password authentication failed/);
    } finally {
      await db.close();
    }
  });
});
