/**
 * The /api/v2.0 permission matrix: every kind of caller × the project and system actions,
 * on a private and a public project, each with its exact status (and error code), against a
 * real server over the real SqlAccessStore on PGlite.
 */
import { expect } from 'chai';
import { call, pushImage, startHarness, type Harness, type OpenHarnessDatabase } from './harness.ts';
import { seedCast, WHO, type Cast, type Who } from './fixture.ts';

type Project = 'priv' | 'pub';

interface Action {
  name: string;
  request(project: Project, who: Who, cast: Cast): { method: string; path: string; body?: unknown };
}

const ACTIONS: Action[] = [
  { name: 'project.read', request: (p) => ({ method: 'GET', path: `/api/v2.0/projects/${p}` }) },
  { name: 'project.update', request: (p) => ({ method: 'PUT', path: `/api/v2.0/projects/${p}`, body: { metadata: { public: String(p === 'pub') } } }) },
  { name: 'repository.list', request: (p) => ({ method: 'GET', path: `/api/v2.0/projects/${p}/repositories` }) },
  { name: 'artifact.list', request: (p) => ({ method: 'GET', path: `/api/v2.0/projects/${p}/repositories/app/artifacts` }) },
  { name: 'tag.create', request: (p, who) => ({ method: 'POST', path: `/api/v2.0/projects/${p}/repositories/app/artifacts/v1/tags`, body: { name: `c-${who}` } }) },
  { name: 'tag.delete', request: (p, who) => ({ method: 'DELETE', path: `/api/v2.0/projects/${p}/repositories/app/artifacts/v1/tags/d-${who}` }) },
  { name: 'artifact.read', request: (p) => ({ method: 'GET', path: `/api/v2.0/projects/${p}/repositories/app/artifacts/v1` }) },
  { name: 'artifact.delete', request: (p, who) => ({ method: 'DELETE', path: `/api/v2.0/projects/${p}/repositories/del-${who.toLowerCase()}/artifacts/v1` }) },
  { name: 'repository.delete', request: (p, who) => ({ method: 'DELETE', path: `/api/v2.0/projects/${p}/repositories/rm-${who.toLowerCase()}` }) },
  { name: 'member.list', request: (p) => ({ method: 'GET', path: `/api/v2.0/projects/${p}/members` }) },
  { name: 'member.create', request: (p, who) => ({ method: 'POST', path: `/api/v2.0/projects/${p}/members`, body: { role_id: 3, member_user: { username: `extra-${who.toLowerCase()}` } } }) },
  { name: 'robot.list', request: (p) => ({ method: 'GET', path: `/api/v2.0/projects/${p}/robots` }) },
  {
    name: 'robot.create',
    request: (p, who) => ({
      method: 'POST',
      path: `/api/v2.0/projects/${p}/robots`,
      body: { name: `r-${who.toLowerCase()}`, level: 'project', permissions: [{ kind: 'project', namespace: p, access: [{ resource: 'repository', action: 'pull' }] }] },
    }),
  },
  { name: 'log.list', request: (p) => ({ method: 'GET', path: `/api/v2.0/projects/${p}/logs` }) },
  { name: 'users.list', request: () => ({ method: 'GET', path: '/api/v2.0/users' }) },
  { name: 'audit.list', request: () => ({ method: 'GET', path: '/api/v2.0/audit-logs' }) },
];

// Columns: anonymous nonMember limitedGuest guest developer maintainer projectAdmin projectRobot systemRobot admin
const EXPECTED: Record<Project, Record<string, string>> = {
  priv: {
    'project.read':       '401 403 200 200 200 200 200 403 403 200',
    'project.update':     '401 403 403 403 403 403 200 403 403 200',
    'repository.list':    '401 403 200 200 200 200 200 200 200 200',
    'artifact.list':      '401 403 200 200 200 200 200 200 200 200',
    'tag.create':         '401 403 403 403 201 201 201 201 403 201',
    'tag.delete':         '401 403 403 403 403 200 200 403 403 200',
    'artifact.read':      '401 403 200 200 200 200 200 200 403 200',
    'artifact.delete':    '401 403 403 403 403 200 200 403 403 200',
    'repository.delete':  '401 403 403 403 403 200 200 403 403 200',
    'member.list':        '401 403 403 200 200 200 200 403 403 200',
    'member.create':      '401 403 403 403 403 403 201 403 403 201',
    'robot.list':         '401 403 403 200 200 200 200 403 403 200',
    'robot.create':       '401 403 403 403 403 403 201 403 403 201',
    'log.list':           '401 403 403 200 200 200 200 403 403 200',
    'users.list':         '401 403 403 403 403 403 403 403 403 200',
    'audit.list':         '401 403 403 403 403 403 403 403 200 200',
  },
  pub: {
    'project.read':       '200 200 200 200 200 200 200 200 200 200',
    'project.update':     '401 403 403 403 403 403 200 403 403 200',
    'repository.list':    '200 200 200 200 200 200 200 200 200 200',
    'artifact.list':      '200 200 200 200 200 200 200 200 200 200',
    'tag.create':         '401 403 403 403 201 201 201 403 403 201',
    'tag.delete':         '401 403 403 403 403 200 200 403 403 200',
    'artifact.read':      '200 200 200 200 200 200 200 200 200 200',
    'artifact.delete':    '401 403 403 403 403 200 200 403 403 200',
    'repository.delete':  '401 403 403 403 403 200 200 403 403 200',
    'member.list':        '401 403 403 200 200 200 200 403 403 200',
    'member.create':      '401 403 403 403 403 403 201 403 403 201',
    'robot.list':         '401 403 403 200 200 200 200 403 403 200',
    'robot.create':       '401 403 403 403 403 403 201 403 403 201',
    'log.list':           '401 403 403 200 200 200 200 403 403 200',
    'users.list':         '401 403 403 403 403 403 403 403 403 200',
    'audit.list':         '401 403 403 403 403 403 403 403 200 200',
  },
};

const CODE_OF: Record<number, string> = { 401: 'UNAUTHORIZED', 403: 'FORBIDDEN' };

export function roleMatrixSuite(backend: string, open: OpenHarnessDatabase): void {
  describe(`/api/v2.0 permission matrix (real server, SqlAccessStore on ${backend})`, function () {
    this.timeout(120_000);
    let h: Harness;
    let cast: Cast;

    before(async () => {
      h = await startHarness(open);
      cast = await seedCast(h);
      // Users that member.create adds, one per caller so each allowed call is a fresh add.
      for (const who of WHO) await h.access.createUser({ name: `extra-${who.toLowerCase()}`, passwordHash: null });
    // An artifact and a repository per caller and project, for the deletes.
    for (const project of ['priv', 'pub']) {
      for (const who of WHO) {
        await pushImage(h.metadata, `${project}/del-${who.toLowerCase()}`, ['v1'], `del-${who}`);
        await pushImage(h.metadata, `${project}/rm-${who.toLowerCase()}`, ['v1'], `rm-${who}`);
      }
    }
    });

    after(async () => {
      await h?.close();
    });

    for (const project of ['priv', 'pub'] as const) {
      for (const action of ACTIONS) {
        it(`${project}: ${action.name}`, async () => {
          const expected = EXPECTED[project][action.name]!.trim().split(/\s+/).map(Number);
          expect(expected).to.have.length(WHO.length);
          const actual: Record<string, number> = {};
          const want: Record<string, number> = {};
          for (const [index, who] of WHO.entries()) {
            const { method, path, body } = action.request(project, who, cast);
            const response = await call(h.url, method, path, { as: cast.creds[who], ...(body !== undefined ? { body } : {}) });
            actual[who] = response.status;
            want[who] = expected[index]!;
            const code = CODE_OF[response.status];
            if (code) expect(response.json.errors[0].code, `${who} ${method} ${path}`).to.equal(code);
          }
          expect(actual).to.deep.equal(want);
        });
      }
    }

    it('refused calls changed nothing; allowed ones did', async () => {
      // Tags created by developer, maintainer, projectAdmin, admin (and the project robot in priv) only.
      const privTags = (await h.metadata.getArtifact('priv/app', cast.digests.priv))!.tags.map((t) => t.name);
      expect(privTags.filter((t) => t.startsWith('c-')).sort()).to.deep.equal(['c-admin', 'c-developer', 'c-maintainer', 'c-projectAdmin', 'c-projectRobot']);
      // d-<who> deleted only by maintainer, projectAdmin and admin.
      expect(privTags.filter((t) => t.startsWith('d-')).sort()).to.deep.equal(
        ['d-anonymous', 'd-developer', 'd-guest', 'd-limitedGuest', 'd-nonMember', 'd-projectRobot', 'd-systemRobot'].sort(),
      );
      const left = async (prefix: string) =>
        (await h.metadata.listProjectRepositories('priv', { name: prefix }, { page: 1, pageSize: 50 })).items.map((r) => r.name.slice(`priv/${prefix}`.length)).sort();
      // Artifact deletes leave an empty repository; repository deletes remove it.
      const withArtifacts = [];
      for (const who of WHO) if ((await h.metadata.getRepository(`priv/del-${who.toLowerCase()}`))!.artifactCount > 0) withArtifacts.push(who.toLowerCase());
      expect(withArtifacts.sort()).to.deep.equal(['anonymous', 'developer', 'guest', 'limitedguest', 'nonmember', 'projectrobot', 'systemrobot']);
      expect(await left('rm-')).to.deep.equal(['anonymous', 'developer', 'guest', 'limitedguest', 'nonmember', 'projectrobot', 'systemrobot']);
      const robots = await h.access.listRobots({ level: 'project', projectId: cast.projects.priv }, { page: 1, pageSize: 50 });
      expect(robots.items.map((r) => r.name).sort()).to.deep.equal(['robot$priv+ci', 'robot$priv+r-admin', 'robot$priv+r-projectadmin']);
      const members = await h.access.listMembers(cast.projects.pub, { userName: 'extra-' }, { page: 1, pageSize: 50 });
      expect(members.items.map((m) => m.userName).sort()).to.deep.equal(['extra-admin', 'extra-projectadmin']);
    });
  });
}
