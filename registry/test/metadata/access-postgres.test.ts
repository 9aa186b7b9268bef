import { expect } from 'chai';
import { migrate } from '../../src/metadata/migrations.ts';
import { PostgresDatabase } from '../../src/metadata/postgres.ts';
import { SqlAccessStore } from '../../src/metadata/sql-access-store.ts';
import { accessStoreSuite, unique } from './access-suite.ts';
import { freshDatabase, type FreshDatabase } from './fresh-database.ts';

describe('access store: PostgreSQL', function () {
  accessStoreSuite(async () => {
    const database = await freshDatabase();
    const db = new PostgresDatabase({ url: database.url, poolSize: 8 });
    return {
      db,
      async dispose() {
        await db.close();
        await database.drop();
      },
    };
  });
});

describe('access store: PostgreSQL across replicas', function () {
  let database: FreshDatabase;
  let replicas: PostgresDatabase[];

  before(async function () {
    database = await freshDatabase();
    replicas = [new PostgresDatabase({ url: database.url, poolSize: 4 }), new PostgresDatabase({ url: database.url, poolSize: 4 })];
    // Replicas start together: the seed row is inserted once.
    await Promise.all(replicas.map((db) => migrate(db)));
  });

  after(async function () {
    await Promise.all((replicas ?? []).map((db) => db.close()));
    await database?.drop();
  });

  it('seeds one library project when replicas migrate together', async function () {
    const rows = await replicas[0]!.query<{ count: number }>("SELECT count(*) AS count FROM projects WHERE name = 'library'");
    expect(rows).to.deep.equal([{ count: 1 }]);
  });

  it('sees one replica’s changes from another at once (nothing cached in the store)', async function () {
    const [a, b] = replicas.map((db) => new SqlAccessStore(db)) as [SqlAccessStore, SqlAccessStore];
    const user = await a.createUser({ name: unique('shared'), passwordHash: '$argon2id$1' });
    const project = await a.createProject({ name: unique('shared'), ownerId: user.id });
    expect(await b.memberRole(project.name, String(user.id))).to.equal('projectAdmin');
    await b.updateUser(user.id, { disabled: true });
    expect(await a.findUser(user.name)).to.equal(undefined);
    await b.deleteProject(project.id);
    expect(await a.findProject(project.name)).to.equal(undefined);
  });

  it('lets one of two replicas win a concurrent creation of the same user name', async function () {
    const name = unique('race');
    const outcomes = await Promise.allSettled(
      replicas.flatMap((db) => [0, 1, 2].map(() => new SqlAccessStore(db).createUser({ name, passwordHash: 'h' }))),
    );
    expect(outcomes.filter((o) => o.status === 'fulfilled')).to.have.length(1);
  });
});
