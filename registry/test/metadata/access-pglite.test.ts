import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate } from '../../src/metadata/migrations.ts';
import { PGliteDatabase } from '../../src/metadata/pglite.ts';
import { SqlAccessStore } from '../../src/metadata/sql-access-store.ts';
import { accessStoreSuite } from './access-suite.ts';

describe('access store: PGlite in memory', function () {
  accessStoreSuite(async () => {
    const db = await PGliteDatabase.open({});
    return { db, dispose: () => db.close() };
  });
});

describe('access store: PGlite on a data directory', function () {
  let directory: string;

  before(async function () {
    directory = await mkdtemp(join(tmpdir(), 'berth-access-'));
  });

  after(async function () {
    await rm(directory, { recursive: true, force: true });
  });

  it('keeps users, projects, members, robots and audit entries across close and reopen', async function () {
    const dataDirectory = join(directory, 'reopen');
    const first = await PGliteDatabase.open({ dataDirectory });
    let ids: { user: number; project: number; robot: number };
    try {
      await migrate(first);
      const store = new SqlAccessStore(first);
      const user = await store.createUser({ name: 'kept', passwordHash: '$argon2id$kept' });
      const project = await store.createProject({ name: 'keptproject', ownerId: user.id });
      const robot = await store.createRobot({
        name: 'robot$keptproject+ci',
        level: 'project',
        projectId: project.id,
        secretHash: 'h',
        permissions: [],
        expiresAt: null,
        creator: 'kept',
      });
      await store.appendAudit({ principal: 'kept', operation: 'create', resourceType: 'project', resource: 'keptproject', outcome: 'success' });
      ids = { user: user.id, project: project.id, robot: robot.id };
    } finally {
      await first.close();
    }

    const second = await PGliteDatabase.open({ dataDirectory });
    try {
      expect(await migrate(second)).to.deep.equal([]);
      const store = new SqlAccessStore(second);
      expect(await store.findUser('kept')).to.deep.equal({ id: String(ids.user), name: 'kept', passwordHash: '$argon2id$kept', sysadmin: false });
      expect(await store.memberRole('keptproject', String(ids.user))).to.equal('projectAdmin');
      expect((await store.getRobot(ids.robot))!.projectId).to.equal(ids.project);
      expect((await store.queryAudit({ principal: 'kept' }, { page: 1, pageSize: 10 })).total).to.equal(1);
      // The seed ran once: still exactly one library project.
      expect((await store.listProjects({ name: 'library' }, { page: 1, pageSize: 10 })).total).to.equal(1);
    } finally {
      await second.close();
    }
  });
});
