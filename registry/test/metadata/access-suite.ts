/**
 * The shared suite of the access-control seam: SqlAccessStore over every SqlDatabase adapter.
 * Run by access-pglite.test.ts and access-postgres.test.ts.
 *
 * One database serves the whole suite; each test makes its own names (`unique()`) and
 * filters listings by them, so tests never depend on each other's rows.
 */
import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import {
  AccessStoreError,
  ConflictError,
  InvalidInputError,
  NotFoundError,
  ProjectNotEmptyError,
  type NewRobot,
  type User,
} from '../../src/metadata/access-store.ts';
import { migrate } from '../../src/metadata/migrations.ts';
import { SqlAccessStore } from '../../src/metadata/sql-access-store.ts';
import { SqlMetadataStore } from '../../src/metadata/sql-store.ts';
import type { SqlDatabase } from '../../src/metadata/store.ts';
import type { RobotPermission } from '../../src/auth/permissions.ts';

export interface AccessFixture {
  db: SqlDatabase;
  /** Closes everything the fixture opened. */
  dispose(): Promise<void>;
}

let counter = 0;
/** A lower-case name no other test uses. */
export function unique(prefix: string): string {
  counter += 1;
  return `${prefix}${counter}-${randomBytes(4).toString('hex')}`;
}

function digestOf(text: string): string {
  return 'sha256:' + createHash('sha256').update(text).digest('hex');
}

/** The error `work` rejects with; fails the test when it resolves. */
async function rejection(work: Promise<unknown>): Promise<Error> {
  try {
    await work;
  } catch (err) {
    return err as Error;
  }
  expect.fail('expected the operation to fail');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const pushPull = (namespace: string): RobotPermission => ({
  kind: 'project',
  namespace,
  access: [
    { resource: 'repository', action: 'pull' },
    { resource: 'repository', action: 'push' },
  ],
});

export function accessStoreSuite(open: () => Promise<AccessFixture>): void {
  let fixture: AccessFixture;
  let store: SqlAccessStore;
  let metadata: SqlMetadataStore;

  before(async function () {
    fixture = await open();
    await migrate(fixture.db);
    store = new SqlAccessStore(fixture.db);
    metadata = new SqlMetadataStore(fixture.db);
  });

  after(async function () {
    await fixture?.dispose();
  });

  async function newUser(extra: { sysadmin?: boolean; email?: string } = {}): Promise<User> {
    return store.createUser({ name: unique('user'), passwordHash: '$argon2id$v=19$fake', ...extra });
  }

  function projectRobot(projectId: number, projectName: string, extra: Partial<NewRobot> = {}): NewRobot {
    return {
      name: `robot$${projectName}+${unique('ci')}`,
      level: 'project',
      projectId,
      secretHash: 'sha256$salt$hash',
      permissions: [pushPull(projectName)],
      expiresAt: null,
      creator: 'admin',
      ...extra,
    };
  }

  describe('the seeded library project', function () {
    it('exists, is public, unlimited and has no owner', async function () {
      expect(await store.findProject('library')).to.deep.equal({ name: 'library', public: true });
      const library = (await store.getProjectByName('library'))!;
      expect(library).to.include({ name: 'library', public: true, storageLimit: -1, ownerId: null, ownerName: null });
      expect(library.metadata).to.deep.equal({});
      expect(await store.getProject(library.id)).to.deep.equal(library);
      const listed = await store.listProjects({ name: 'library', public: true }, { page: 1, pageSize: 10 });
      expect(listed.items.map((p) => p.name)).to.include('library');
    });
  });

  describe('projects', function () {
    it('creates a project with defaults and finds it by id and by name', async function () {
      const name = unique('proj');
      const created = await store.createProject({ name });
      expect(created).to.include({ name, public: false, storageLimit: -1, ownerId: null, ownerName: null, repositoryCount: 0 });
      expect(created.id).to.be.a('number');
      expect(created.metadata).to.deep.equal({});
      expect(created.createdAt).to.be.instanceOf(Date);
      expect(await store.getProject(created.id)).to.deep.equal(created);
      expect(await store.getProjectByName(name)).to.deep.equal(created);
      expect(await store.findProject(name)).to.deep.equal({ name, public: false });
      expect(await store.getProject(999_999_999)).to.equal(undefined);
      expect(await store.getProjectByName(unique('missing'))).to.equal(undefined);
      expect(await store.findProject(unique('missing'))).to.equal(undefined);
    });

    it('creates a project with an owner, who becomes its project admin in the same step', async function () {
      const owner = await newUser();
      const name = unique('owned');
      const project = await store.createProject({ name, public: true, storageLimit: 1 << 30, metadata: { auto_scan: 'true' }, ownerId: owner.id });
      expect(project).to.include({ public: true, storageLimit: 1 << 30, ownerId: owner.id, ownerName: owner.name });
      expect(project.metadata).to.deep.equal({ auto_scan: 'true' });
      expect(await store.memberRole(name, String(owner.id))).to.equal('projectAdmin');
      expect(await store.userProjects(owner.id)).to.deep.equal([{ projectId: project.id, projectName: name, public: true, role: 'projectAdmin' }]);
    });

    it('refuses a taken name, a bad name, a bad limit and an unknown owner with typed errors, creating nothing', async function () {
      const name = unique('dup');
      await store.createProject({ name });
      const taken = await rejection(store.createProject({ name, public: true }));
      expect(taken).to.be.instanceOf(ConflictError).and.instanceOf(AccessStoreError);
      expect((taken as ConflictError).code).to.equal('conflict');
      expect(taken.message).to.contain(name);
      expect((await store.getProjectByName(name))!.public).to.equal(false);

      const slash = await rejection(store.createProject({ name: `${unique('a')}/b` }));
      expect(slash).to.be.instanceOf(InvalidInputError);
      expect((slash as InvalidInputError).code).to.equal('invalid');
      expect(await rejection(store.createProject({ name: '' }))).to.be.instanceOf(InvalidInputError);
      expect(await rejection(store.createProject({ name: unique('limit'), storageLimit: -2 }))).to.be.instanceOf(InvalidInputError);
      expect(await rejection(store.createProject({ name: unique('meta'), metadata: { n: 1 as unknown as string } }))).to.be.instanceOf(InvalidInputError);

      const orphan = unique('orphan');
      const noOwner = await rejection(store.createProject({ name: orphan, ownerId: 999_999_999 }));
      expect(noOwner).to.be.instanceOf(NotFoundError);
      expect((noOwner as NotFoundError).code).to.equal('not_found');
      expect(await store.getProjectByName(orphan)).to.equal(undefined);
    });

    it('lets exactly one of several concurrent creations of a name succeed', async function () {
      const name = unique('race');
      const outcomes = await Promise.allSettled(Array.from({ length: 8 }, () => store.createProject({ name })));
      expect(outcomes.filter((o) => o.status === 'fulfilled')).to.have.length(1);
      for (const outcome of outcomes) {
        if (outcome.status === 'rejected') expect(outcome.reason).to.be.instanceOf(ConflictError);
      }
    });

    it('lists by name with page/pageSize and a total, including edge pages', async function () {
      const prefix = unique('list');
      const names = ['c', 'a', 'e', 'b', 'd'].map((suffix) => `${prefix}-${suffix}`);
      for (const name of names) await store.createProject({ name, public: name.endsWith('a') || name.endsWith('d') });
      const sorted = [...names].sort();

      const first = await store.listProjects({ name: prefix }, { page: 1, pageSize: 2 });
      expect(first.total).to.equal(5);
      expect(first.items.map((p) => p.name)).to.deep.equal(sorted.slice(0, 2));
      const last = await store.listProjects({ name: prefix }, { page: 3, pageSize: 2 });
      expect(last.items.map((p) => p.name)).to.deep.equal(sorted.slice(4));
      const exact = await store.listProjects({ name: prefix }, { page: 1, pageSize: 5 });
      expect(exact.items.map((p) => p.name)).to.deep.equal(sorted);
      const beyond = await store.listProjects({ name: prefix }, { page: 4, pageSize: 2 });
      expect(beyond).to.deep.equal({ items: [], total: 5 });
      const none = await store.listProjects({ name: unique('nothing') }, { page: 1, pageSize: 10 });
      expect(none).to.deep.equal({ items: [], total: 0 });

      const publicOnes = await store.listProjects({ name: prefix, public: true }, { page: 1, pageSize: 10 });
      expect(publicOnes.items.map((p) => p.name)).to.deep.equal([`${prefix}-a`, `${prefix}-d`]);
      const privateOnes = await store.listProjects({ name: prefix, public: false }, { page: 1, pageSize: 10 });
      expect(privateOnes.total).to.equal(3);

      expect(await rejection(store.listProjects({}, { page: 0, pageSize: 10 }))).to.be.instanceOf(InvalidInputError);
      expect(await rejection(store.listProjects({}, { page: 1, pageSize: 0 }))).to.be.instanceOf(InvalidInputError);
      expect(await rejection(store.listProjects({}, { page: 1.5, pageSize: 10 }))).to.be.instanceOf(InvalidInputError);
    });

    it('lists the projects a user is a member of, and those a user may see', async function () {
      const prefix = unique('vis');
      const user = await newUser();
      const open = await store.createProject({ name: `${prefix}-open`, public: true });
      const mine = await store.createProject({ name: `${prefix}-mine` });
      await store.createProject({ name: `${prefix}-other` });
      await store.addMember(mine.id, user.id, 'guest');

      const member = await store.listProjects({ name: prefix, memberUserId: user.id }, { page: 1, pageSize: 10 });
      expect(member.items.map((p) => p.name)).to.deep.equal([mine.name]);
      const visible = await store.listProjects({ name: prefix, visibleToUserId: user.id }, { page: 1, pageSize: 10 });
      expect(visible.items.map((p) => p.name)).to.deep.equal([mine.name, open.name]);
      expect(visible.total).to.equal(2);
    });

    it('updates public, storage limit and metadata (merged; null removes a key)', async function () {
      const project = await store.createProject({ name: unique('upd'), metadata: { auto_scan: 'true', severity: 'high' } });
      await sleep(5);
      const updated = await store.updateProject(project.id, {
        public: true,
        storageLimit: 1024,
        metadata: { severity: null, prevent_vul: 'true' },
      });
      expect(updated).to.include({ id: project.id, public: true, storageLimit: 1024 });
      expect(updated.metadata).to.deep.equal({ auto_scan: 'true', prevent_vul: 'true' });
      expect(updated.updatedAt.getTime()).to.be.greaterThan(project.updatedAt.getTime());
      expect(updated.createdAt.getTime()).to.equal(project.createdAt.getTime());
      expect(await store.findProject(project.name)).to.deep.equal({ name: project.name, public: true });

      const untouched = await store.updateProject(project.id, { storageLimit: -1 });
      expect(untouched).to.include({ public: true, storageLimit: -1 });
      expect(untouched.metadata).to.deep.equal({ auto_scan: 'true', prevent_vul: 'true' });

      expect(await rejection(store.updateProject(999_999_999, { public: true }))).to.be.instanceOf(NotFoundError);
      expect(await rejection(store.updateProject(project.id, { storageLimit: -5 }))).to.be.instanceOf(InvalidInputError);
    });

    it('counts repositories by project', async function () {
      const project = await store.createProject({ name: unique('repos') });
      const empty = await store.createProject({ name: unique('empty') });
      await metadata.putBlob(`${project.name}/app`, { digest: digestOf(project.name), size: 1 });
      await metadata.putBlob(`${project.name}/tools/cli`, { digest: digestOf(project.name), size: 1 });
      // A repository whose name merely starts with the project name is another project's.
      await metadata.putBlob(`${project.name}x/app`, { digest: digestOf(project.name), size: 1 });

      expect((await store.getProject(project.id))!.repositoryCount).to.equal(2);
      expect((await store.listProjects({ name: project.name }, { page: 1, pageSize: 1 })).items[0]!.repositoryCount).to.equal(2);
      const counts = await store.repositoryCounts([project.name, empty.name, unique('nosuch')]);
      expect(counts.get(project.name)).to.equal(2);
      expect(counts.get(empty.name)).to.equal(0);
      expect(counts.size).to.equal(3);
      expect((await store.repositoryCounts([])).size).to.equal(0);
    });

    it('deletes an empty project with its members and project robots; ids do not come back', async function () {
      const user = await newUser();
      const project = await store.createProject({ name: unique('gone'), ownerId: user.id });
      const robot = await store.createRobot(projectRobot(project.id, project.name));
      await store.deleteProject(project.id);

      expect(await store.getProject(project.id)).to.equal(undefined);
      expect(await store.findProject(project.name)).to.equal(undefined);
      expect(await store.memberRole(project.name, String(user.id))).to.equal(undefined);
      expect(await store.userProjects(user.id)).to.deep.equal([]);
      expect(await store.getRobot(robot.id)).to.equal(undefined);
      expect(await store.findRobot(robot.name)).to.equal(undefined);
      expect(await store.getUser(user.id)).to.not.equal(undefined);
      expect(await rejection(store.deleteProject(project.id))).to.be.instanceOf(NotFoundError);

      const again = await store.createProject({ name: project.name });
      expect(again.id).to.not.equal(project.id);
      expect(await store.memberRole(project.name, String(user.id))).to.equal(undefined);
    });

    it('refuses to delete a project with repositories unless forced, then deletes them too', async function () {
      const project = await store.createProject({ name: unique('full') });
      const repository = `${project.name}/app`;
      const blob = { digest: digestOf(repository), size: 3 };
      await metadata.putBlob(repository, blob);
      const content = Buffer.from(JSON.stringify({ schemaVersion: 2, r: repository }));
      const manifestDigest = digestOf(content.toString());
      await metadata.putManifest(
        { repository, digest: manifestDigest, mediaType: 'application/vnd.oci.image.manifest.v1+json', content, references: { blobs: [blob.digest], manifests: [] } },
        ['v1'],
      );

      const refused = await rejection(store.deleteProject(project.id));
      expect(refused).to.be.instanceOf(ProjectNotEmptyError).and.instanceOf(ConflictError);
      expect(refused).to.include({ project: project.name, repositoryCount: 1 });
      expect(await store.getProject(project.id)).to.not.equal(undefined);
      expect(await metadata.resolveTag(repository, 'v1')).to.equal(manifestDigest);

      await store.deleteProject(project.id, { force: true });
      expect(await store.getProject(project.id)).to.equal(undefined);
      expect(await metadata.resolveTag(repository, 'v1')).to.equal(undefined);
      expect(await metadata.getManifest(repository, manifestDigest)).to.equal(undefined);
      expect(await metadata.getLinkedBlob(repository, blob.digest)).to.equal(undefined);
      expect(await metadata.listTags(repository, {})).to.equal(undefined);
      // The blob row stays for garbage collection.
      expect(await metadata.getBlob(blob.digest)).to.deep.equal(blob);
    });

    it("drops a deleted project from system robots' permissions, keeping the rest", async function () {
      const doomed = await store.createProject({ name: unique('doomed') });
      const kept = await store.createProject({ name: unique('kept') });
      const system = await store.createRobot({
        name: `robot$${unique('sys')}`,
        level: 'system',
        secretHash: 'h',
        permissions: [
          pushPull(doomed.name),
          pushPull(kept.name),
          { kind: 'system', namespace: '/', access: [{ resource: 'project', action: 'create' }] },
        ],
        expiresAt: null,
        creator: 'admin',
      });
      await store.deleteProject(doomed.id);
      const after = (await store.getRobot(system.id))!;
      expect(after.permissions).to.deep.equal([
        pushPull(kept.name),
        { kind: 'system', namespace: '/', access: [{ resource: 'project', action: 'create' }] },
      ]);
      expect((await store.findRobot(system.name))!.permissions).to.deep.equal(after.permissions);
    });
  });

  describe('members', function () {
    it('adds, gets, lists, changes and removes members', async function () {
      const project = await store.createProject({ name: unique('team') });
      const prefix = unique('mem');
      const users = [];
      for (const suffix of ['b', 'a', 'c']) users.push(await store.createUser({ name: `${prefix}-${suffix}`, passwordHash: 'h' }));
      const [b, a, c] = users as [User, User, User];

      const added = await store.addMember(project.id, b.id, 'developer');
      expect(added).to.include({ projectId: project.id, userId: b.id, userName: b.name, role: 'developer' });
      expect(added.createdAt).to.be.instanceOf(Date);
      expect(await store.getMember(project.id, added.id)).to.deep.equal(added);
      await store.addMember(project.id, a.id, 'guest');
      await store.addMember(project.id, c.id, 'limitedGuest');

      const page1 = await store.listMembers(project.id, {}, { page: 1, pageSize: 2 });
      expect(page1.total).to.equal(3);
      expect(page1.items.map((m) => m.userName)).to.deep.equal([a.name, b.name]);
      const page2 = await store.listMembers(project.id, {}, { page: 2, pageSize: 2 });
      expect(page2.items.map((m) => m.userName)).to.deep.equal([c.name]);
      const filtered = await store.listMembers(project.id, { userName: `${prefix}-C`.toUpperCase() }, { page: 1, pageSize: 10 });
      expect(filtered.items.map((m) => m.role)).to.deep.equal(['limitedGuest']);

      expect(await store.memberRole(project.name, String(b.id))).to.equal('developer');
      await sleep(5);
      const promoted = await store.updateMemberRole(project.id, added.id, 'maintainer');
      expect(promoted.role).to.equal('maintainer');
      expect(promoted.updatedAt.getTime()).to.be.greaterThan(added.updatedAt.getTime());
      expect(await store.memberRole(project.name, String(b.id))).to.equal('maintainer');

      await store.removeMember(project.id, added.id);
      expect(await store.getMember(project.id, added.id)).to.equal(undefined);
      expect(await store.memberRole(project.name, String(b.id))).to.equal(undefined);
      expect((await store.listMembers(project.id, {}, { page: 1, pageSize: 10 })).total).to.equal(2);
    });

    it('refuses duplicates, unknown roles, users and projects, and missing members, with typed errors', async function () {
      const project = await store.createProject({ name: unique('strict') });
      const other = await store.createProject({ name: unique('other') });
      const user = await newUser();
      const member = await store.addMember(project.id, user.id, 'guest');

      expect(await rejection(store.addMember(project.id, user.id, 'developer'))).to.be.instanceOf(ConflictError);
      expect(await store.memberRole(project.name, String(user.id))).to.equal('guest');
      expect(await rejection(store.addMember(project.id, (await newUser()).id, 'owner' as 'guest'))).to.be.instanceOf(InvalidInputError);
      expect(await rejection(store.addMember(project.id, 999_999_999, 'guest'))).to.be.instanceOf(NotFoundError);
      expect(await rejection(store.addMember(999_999_999, user.id, 'guest'))).to.be.instanceOf(NotFoundError);
      expect(await rejection(store.updateMemberRole(project.id, member.id, 'admin' as 'guest'))).to.be.instanceOf(InvalidInputError);
      // A member id belongs to its project: another project's id is not found.
      expect(await rejection(store.updateMemberRole(other.id, member.id, 'developer'))).to.be.instanceOf(NotFoundError);
      expect(await rejection(store.removeMember(other.id, member.id))).to.be.instanceOf(NotFoundError);
      expect(await store.getMember(other.id, member.id)).to.equal(undefined);
      expect(await store.memberRole(project.name, String(user.id))).to.equal('guest');
    });

    it('lets exactly one of several concurrent additions of the same user succeed', async function () {
      const project = await store.createProject({ name: unique('crowd') });
      const user = await newUser();
      const outcomes = await Promise.allSettled(Array.from({ length: 6 }, () => store.addMember(project.id, user.id, 'guest')));
      expect(outcomes.filter((o) => o.status === 'fulfilled')).to.have.length(1);
      expect((await store.listMembers(project.id, {}, { page: 1, pageSize: 10 })).total).to.equal(1);
    });

    it("answers memberRole only for a user id the store issued, and lists a user's projects by name", async function () {
      const user = await newUser();
      const prefix = unique('up');
      const second = await store.createProject({ name: `${prefix}-b` });
      const first = await store.createProject({ name: `${prefix}-a`, public: true });
      await store.addMember(second.id, user.id, 'maintainer');
      await store.addMember(first.id, user.id, 'developer');
      expect(await store.userProjects(user.id)).to.deep.equal([
        { projectId: first.id, projectName: first.name, public: true, role: 'developer' },
        { projectId: second.id, projectName: second.name, public: false, role: 'maintainer' },
      ]);
      for (const id of ['', 'abc', '1 OR 1=1', '-1', '0', '1.5', '99999999999999999999']) {
        expect(await store.memberRole(first.name, id)).to.equal(undefined);
      }
      expect(await store.memberRole(unique('nosuch'), String(user.id))).to.equal(undefined);
    });
  });

  describe('users', function () {
    it('creates a user and finds it for login without exposing the hash elsewhere', async function () {
      const name = unique('alice');
      const user = await store.createUser({ name, email: `${name}@example.com`, realname: 'Alice', comment: 'ops', passwordHash: '$argon2id$one', sysadmin: false });
      expect(user).to.include({ name, email: `${name}@example.com`, realname: 'Alice', comment: 'ops', sysadmin: false, disabled: false, hasPassword: true });
      expect(user.passwordChangedAt).to.be.instanceOf(Date);
      expect(Object.values(user)).to.not.include('$argon2id$one');
      expect(await store.getUser(user.id)).to.deep.equal(user);
      expect(await store.getUserByName(name)).to.deep.equal(user);
      expect(await store.findUser(name)).to.deep.equal({ id: String(user.id), name, passwordHash: '$argon2id$one', sysadmin: false });
      expect(await store.getUser(999_999_999)).to.equal(undefined);
      expect(await store.getUserByName(unique('nobody'))).to.equal(undefined);
      expect(await store.findUser(unique('nobody'))).to.equal(undefined);
    });

    it('applies defaults, and a user without a password cannot log in', async function () {
      const name = unique('sso');
      const user = await store.createUser({ name, passwordHash: null });
      expect(user).to.include({ email: null, realname: '', comment: '', sysadmin: false, hasPassword: false, passwordChangedAt: null });
      expect(await store.findUser(name)).to.equal(undefined);
      await store.setUserPassword(user.id, '$argon2id$set');
      expect((await store.findUser(name))!.passwordHash).to.equal('$argon2id$set');
    });

    it('refuses taken names and emails (case-insensitive), and robot-like names', async function () {
      const name = unique('bob');
      const email = `${name}@Example.com`;
      const bob = await store.createUser({ name, email, passwordHash: 'h' });
      expect(await rejection(store.createUser({ name, passwordHash: 'h' }))).to.be.instanceOf(ConflictError);
      const sameEmail = await rejection(store.createUser({ name: unique('bob'), email: email.toUpperCase(), passwordHash: 'h' }));
      expect(sameEmail).to.be.instanceOf(ConflictError);
      expect(sameEmail.message).to.match(/email/);
      expect(await rejection(store.createUser({ name: 'robot$sneaky', passwordHash: 'h' }))).to.be.instanceOf(InvalidInputError);
      expect(await rejection(store.createUser({ name: '', passwordHash: 'h' }))).to.be.instanceOf(InvalidInputError);
      const other = await newUser();
      expect(await rejection(store.updateUser(other.id, { email: email.toLowerCase() }))).to.be.instanceOf(ConflictError);
      expect((await store.getUser(other.id))!.email).to.equal(null);
      // Users without email do not collide.
      await store.updateUser(bob.id, { email: null });
      await store.updateUser(other.id, { email: null });
    });

    it('updates profile, admin and disabled flags; a disabled user cannot log in', async function () {
      const user = await newUser();
      await sleep(5);
      const updated = await store.updateUser(user.id, { email: `${user.name}@x.org`, realname: 'R', comment: 'c', sysadmin: true });
      expect(updated).to.include({ email: `${user.name}@x.org`, realname: 'R', comment: 'c', sysadmin: true, disabled: false });
      expect(updated.updatedAt.getTime()).to.be.greaterThan(user.updatedAt.getTime());
      expect((await store.findUser(user.name))!.sysadmin).to.equal(true);

      const disabled = await store.updateUser(user.id, { disabled: true });
      expect(disabled).to.include({ disabled: true, sysadmin: true, realname: 'R' });
      expect(await store.findUser(user.name)).to.equal(undefined);
      expect((await store.getUserByName(user.name))!.disabled).to.equal(true);
      await store.updateUser(user.id, { disabled: false });
      expect(await store.findUser(user.name)).to.not.equal(undefined);

      expect(await rejection(store.updateUser(999_999_999, { realname: 'x' }))).to.be.instanceOf(NotFoundError);
    });

    it('sets a new password hash and records when', async function () {
      const user = await newUser();
      await sleep(5);
      await store.setUserPassword(user.id, '$argon2id$two');
      expect((await store.findUser(user.name))!.passwordHash).to.equal('$argon2id$two');
      const after = (await store.getUser(user.id))!;
      expect(after.passwordChangedAt!.getTime()).to.be.greaterThan(user.passwordChangedAt!.getTime());
      expect(await rejection(store.setUserPassword(999_999_999, 'h'))).to.be.instanceOf(NotFoundError);
    });

    it('lists users by name with filters and pagination', async function () {
      const prefix = unique('lu');
      for (const suffix of ['c', 'a', 'b']) {
        await store.createUser({ name: `${prefix}-${suffix}`, email: `${prefix}-${suffix}@corp.example`, passwordHash: 'h' });
      }
      const page = await store.listUsers({ name: prefix.toUpperCase() }, { page: 1, pageSize: 2 });
      expect(page.total).to.equal(3);
      expect(page.items.map((u) => u.name)).to.deep.equal([`${prefix}-a`, `${prefix}-b`]);
      const byEmail = await store.listUsers({ email: `${prefix}-C@CORP` }, { page: 1, pageSize: 10 });
      expect(byEmail.items.map((u) => u.name)).to.deep.equal([`${prefix}-c`]);
      expect((await store.listUsers({ name: prefix }, { page: 2, pageSize: 2 })).items.map((u) => u.name)).to.deep.equal([`${prefix}-c`]);
    });

    it('counts enabled admins', async function () {
      const before = await store.countAdmins();
      const admin = await newUser({ sysadmin: true });
      await newUser();
      expect(await store.countAdmins()).to.equal(before + 1);
      await store.updateUser(admin.id, { disabled: true });
      expect(await store.countAdmins()).to.equal(before);
    });

    it('deletes a user with its memberships; projects it owned keep no owner', async function () {
      const user = await newUser();
      const project = await store.createProject({ name: unique('own'), ownerId: user.id });
      await store.deleteUser(user.id);
      expect(await store.getUser(user.id)).to.equal(undefined);
      expect(await store.findUser(user.name)).to.equal(undefined);
      expect(await store.memberRole(project.name, String(user.id))).to.equal(undefined);
      expect(await store.getProject(project.id)).to.include({ ownerId: null, ownerName: null });
      expect(await rejection(store.deleteUser(user.id))).to.be.instanceOf(NotFoundError);
    });
  });

  describe('robots', function () {
    it('creates a project robot and finds it for login', async function () {
      const project = await store.createProject({ name: unique('bots') });
      const expiresAt = new Date(Date.now() + 30 * 86_400_000);
      const robot = await store.createRobot(
        projectRobot(project.id, project.name, { description: 'CI pusher', durationDays: 30, expiresAt, creator: 'alice' }),
      );
      expect(robot).to.include({ level: 'project', projectId: project.id, projectName: project.name, description: 'CI pusher', disabled: false, durationDays: 30, creator: 'alice' });
      expect(robot.name.startsWith(`robot$${project.name}+`)).to.equal(true);
      expect(robot.expiresAt!.getTime()).to.equal(expiresAt.getTime());
      expect(robot.permissions).to.deep.equal([pushPull(project.name)]);
      expect(Object.values(robot)).to.not.include('sha256$salt$hash');
      expect(await store.getRobot(robot.id)).to.deep.equal(robot);
      expect(await store.getRobotByName(robot.name)).to.deep.equal(robot);
      expect(await store.findRobot(robot.name)).to.deep.equal({
        id: String(robot.id),
        name: robot.name,
        secretHash: 'sha256$salt$hash',
        level: 'project',
        permissions: [pushPull(project.name)],
        disabled: false,
        expiresAt,
      });
      expect(await store.getRobot(999_999_999)).to.equal(undefined);
      expect(await store.findRobot(`robot$${unique('nobody')}`)).to.equal(undefined);
    });

    it('creates a system robot that never expires, with deny effects kept', async function () {
      const permissions: RobotPermission[] = [
        { kind: 'project', namespace: '*', access: [{ resource: 'repository', action: 'pull' }, { resource: 'repository', action: 'push', effect: 'deny' }] },
        { kind: 'system', namespace: '/', access: [{ resource: 'catalog', action: 'read' }] },
      ];
      const robot = await store.createRobot({ name: `robot$${unique('all')}`, level: 'system', secretHash: 'h', permissions, expiresAt: null, creator: 'admin' });
      expect(robot).to.include({ level: 'system', projectId: null, projectName: null, durationDays: -1, expiresAt: null });
      expect((await store.findRobot(robot.name))!.permissions).to.deep.equal(permissions);
    });

    it('refuses bad names, levels, projects and permissions with typed errors', async function () {
      const project = await store.createProject({ name: unique('rules') });
      const ok = projectRobot(project.id, project.name);
      await store.createRobot(ok);
      expect(await rejection(store.createRobot(ok))).to.be.instanceOf(ConflictError);
      expect(await rejection(store.createRobot({ ...ok, name: unique('norobotprefix') }))).to.be.instanceOf(InvalidInputError);
      expect(await rejection(store.createRobot({ ...ok, name: 'robot$' }))).to.be.instanceOf(InvalidInputError);
      const fresh = () => `robot$${unique('r')}`;
      const { projectId: _omit, ...withoutProject } = ok;
      expect(await rejection(store.createRobot({ ...withoutProject, name: fresh() }))).to.be.instanceOf(InvalidInputError);
      expect(await rejection(store.createRobot({ ...ok, name: fresh(), level: 'system' }))).to.be.instanceOf(InvalidInputError);
      expect(await rejection(store.createRobot({ ...ok, name: fresh(), level: 'global' as 'system' }))).to.be.instanceOf(InvalidInputError);
      expect(await rejection(store.createRobot({ ...ok, name: fresh(), projectId: 999_999_999 }))).to.be.instanceOf(NotFoundError);
      expect(await rejection(store.createRobot({ ...ok, name: fresh(), durationDays: 0 }))).to.be.instanceOf(InvalidInputError);
      const badPermissions: unknown[] = [
        'all',
        [{ kind: 'root', namespace: 'x', access: [] }],
        [{ kind: 'project', namespace: '', access: [] }],
        [{ kind: 'project', namespace: 'x', access: 'everything' }],
        [{ kind: 'project', namespace: 'x', access: [{ resource: 'repository' }] }],
        [{ kind: 'project', namespace: 'x', access: [{ resource: 'repository', action: 'pull', effect: 'maybe' }] }],
        [null],
      ];
      for (const permissions of badPermissions) {
        const refused = await rejection(store.createRobot({ ...ok, name: fresh(), permissions: permissions as RobotPermission[] }));
        expect(refused, JSON.stringify(permissions)).to.be.instanceOf(InvalidInputError);
      }
    });

    it("keeps a project robot inside its project, and system permissions on \"/\"", async function () {
      const project = await store.createProject({ name: unique('scoped') });
      const neighbour = await store.createProject({ name: unique('neighbour') });
      const fresh = () => `robot$${project.name}+${unique('r')}`;
      const refused = await rejection(store.createRobot(projectRobot(project.id, project.name, { name: fresh(), permissions: [pushPull(neighbour.name)] })));
      expect(refused).to.be.instanceOf(InvalidInputError);
      expect(refused.message).to.contain(project.name);
      const systemKind: RobotPermission = { kind: 'system', namespace: '/', access: [{ resource: 'user', action: 'list' }] };
      expect(await rejection(store.createRobot(projectRobot(project.id, project.name, { name: fresh(), permissions: [systemKind] })))).to.be.instanceOf(InvalidInputError);
      expect((await store.listRobots({ projectId: project.id }, { page: 1, pageSize: 10 })).total).to.equal(0);

      const robot = await store.createRobot(projectRobot(project.id, project.name));
      expect(await rejection(store.updateRobot(robot.id, { permissions: [pushPull(project.name), pushPull('*')] }))).to.be.instanceOf(InvalidInputError);
      expect((await store.getRobot(robot.id))!.permissions).to.deep.equal([pushPull(project.name)]);

      const systemName = `robot$${unique('sysns')}`;
      const badNamespace = { kind: 'system' as const, namespace: project.name, access: [{ resource: 'user', action: 'list' }] };
      const base = { name: systemName, level: 'system' as const, secretHash: 'h', expiresAt: null, creator: 'admin' };
      expect(await rejection(store.createRobot({ ...base, permissions: [badNamespace] }))).to.be.instanceOf(InvalidInputError);
      const system = await store.createRobot({ ...base, permissions: [systemKind, pushPull(neighbour.name)] });
      expect(system.permissions).to.deep.equal([systemKind, pushPull(neighbour.name)]);
    });

    it('lists robots by level, project and name with pagination', async function () {
      const project = await store.createProject({ name: unique('many') });
      const other = await store.createProject({ name: unique('else') });
      const names = [];
      for (let i = 0; i < 3; i++) names.push((await store.createRobot(projectRobot(project.id, project.name))).name);
      await store.createRobot(projectRobot(other.id, other.name));
      const systemName = `robot$${unique('lsys')}`;
      await store.createRobot({ name: systemName, level: 'system', secretHash: 'h', permissions: [], expiresAt: null, creator: 'admin' });

      const first = await store.listRobots({ projectId: project.id }, { page: 1, pageSize: 2 });
      expect(first.total).to.equal(3);
      expect(first.items.map((r) => r.name)).to.deep.equal(names.sort().slice(0, 2));
      const second = await store.listRobots({ projectId: project.id, level: 'project' }, { page: 2, pageSize: 2 });
      expect(second.items.map((r) => r.name)).to.deep.equal(names.slice(2));
      const system = await store.listRobots({ level: 'system', name: systemName }, { page: 1, pageSize: 10 });
      expect(system.items.map((r) => r.name)).to.deep.equal([systemName]);
      expect((await store.listRobots({ level: 'project', name: systemName }, { page: 1, pageSize: 10 })).total).to.equal(0);
    });

    it('updates description, permissions, disabled and expiry, and refreshes the secret', async function () {
      const project = await store.createProject({ name: unique('edit') });
      const robot = await store.createRobot(projectRobot(project.id, project.name));
      await sleep(5);
      const pullOnly: RobotPermission[] = [{ kind: 'project', namespace: project.name, access: [{ resource: 'repository', action: 'pull' }] }];
      const expiresAt = new Date(Date.now() + 86_400_000);
      const updated = await store.updateRobot(robot.id, { description: 'pull only', permissions: pullOnly, disabled: true, durationDays: 1, expiresAt });
      expect(updated).to.include({ description: 'pull only', disabled: true, durationDays: 1 });
      expect(updated.permissions).to.deep.equal(pullOnly);
      expect(updated.expiresAt!.getTime()).to.equal(expiresAt.getTime());
      expect(updated.updatedAt.getTime()).to.be.greaterThan(robot.updatedAt.getTime());
      expect(await store.findRobot(robot.name)).to.include({ disabled: true });

      const never = await store.updateRobot(robot.id, { expiresAt: null, durationDays: -1, disabled: false });
      expect(never).to.include({ expiresAt: null, durationDays: -1, disabled: false, description: 'pull only' });

      await store.setRobotSecret(robot.id, 'sha256$new$hash');
      expect((await store.findRobot(robot.name))!.secretHash).to.equal('sha256$new$hash');

      expect(await rejection(store.updateRobot(robot.id, { permissions: [{ kind: 'x' }] as unknown as RobotPermission[] }))).to.be.instanceOf(InvalidInputError);
      expect(await rejection(store.updateRobot(999_999_999, { disabled: true }))).to.be.instanceOf(NotFoundError);
      expect(await rejection(store.setRobotSecret(999_999_999, 'h'))).to.be.instanceOf(NotFoundError);
    });

    it('deletes a robot', async function () {
      const robot = await store.createRobot({ name: `robot$${unique('del')}`, level: 'system', secretHash: 'h', permissions: [], expiresAt: null, creator: 'admin' });
      await store.deleteRobot(robot.id);
      expect(await store.getRobot(robot.id)).to.equal(undefined);
      expect(await store.findRobot(robot.name)).to.equal(undefined);
      expect(await rejection(store.deleteRobot(robot.id))).to.be.instanceOf(NotFoundError);
    });
  });

  describe('audit log', function () {
    it('appends an entry with the database time when none is given', async function () {
      const principal = unique('auditor');
      const before = Date.now();
      const entry = await store.appendAudit({
        principal,
        operation: 'push',
        resourceType: 'artifact',
        resource: 'library/nginx:latest',
        project: 'library',
        outcome: 'success',
        clientAddress: '192.0.2.7',
        detail: { digest: digestOf('x'), size: 12 },
      });
      expect(entry).to.include({ principal, operation: 'push', resourceType: 'artifact', resource: 'library/nginx:latest', project: 'library', outcome: 'success', clientAddress: '192.0.2.7' });
      expect(entry.detail).to.deep.equal({ digest: digestOf('x'), size: 12 });
      expect(entry.id).to.be.a('number');
      // Database and test clocks are the same machine's; allow for rounding.
      expect(entry.at.getTime()).to.be.within(before - 1000, Date.now() + 1000);

      const minimal = await store.appendAudit({ principal, operation: 'login', resourceType: 'user', resource: principal, outcome: 'failure' });
      expect(minimal).to.include({ project: null, clientAddress: null, detail: null, outcome: 'failure' });
      expect(minimal.id).to.be.greaterThan(entry.id);
      expect(await rejection(store.appendAudit({ principal, operation: 'login', resourceType: 'user', resource: principal, outcome: 'maybe' as 'success' }))).to.be.instanceOf(InvalidInputError);
    });

    it('queries newest first by time range, principal, operation, resource, project and outcome', async function () {
      const principal = unique('actor');
      const other = unique('actor');
      const repo = `${unique('aud')}/app`;
      const base = Date.UTC(2026, 0, 1);
      const at = (minutes: number) => new Date(base + minutes * 60_000);
      const events = [
        { principal, operation: 'push' as const, resourceType: 'artifact', resource: `${repo}:v1`, project: repo.split('/')[0]!, outcome: 'success' as const, at: at(0) },
        { principal, operation: 'pull' as const, resourceType: 'artifact', resource: `${repo}:v1`, project: repo.split('/')[0]!, outcome: 'success' as const, at: at(1) },
        { principal, operation: 'delete' as const, resourceType: 'artifact', resource: `${repo}:v1`, project: repo.split('/')[0]!, outcome: 'failure' as const, at: at(2) },
        { principal: other, operation: 'pull' as const, resourceType: 'artifact', resource: `${repo}x:v1`, outcome: 'success' as const, at: at(3) },
        { principal, operation: 'create' as const, resourceType: 'project', resource: 'p', outcome: 'success' as const, at: at(4) },
      ];
      for (const event of events) await store.appendAudit(event);
      const page = { page: 1, pageSize: 50 };
      const ops = async (filter: Parameters<SqlAccessStore['queryAudit']>[0]) =>
        (await store.queryAudit(filter, page)).items.map((e) => `${e.principal === principal ? 'me' : 'other'}:${e.operation}`);

      expect(await ops({ principal })).to.deep.equal(['me:create', 'me:delete', 'me:pull', 'me:push']);
      expect(await ops({ principal, operation: 'pull' })).to.deep.equal(['me:pull']);
      expect(await ops({ principal, from: at(1), to: at(4) })).to.deep.equal(['me:delete', 'me:pull']);
      expect(await ops({ resource: `${repo}:v1` })).to.deep.equal(['me:delete', 'me:pull', 'me:push']);
      expect(await ops({ resourcePrefix: repo })).to.deep.equal(['other:pull', 'me:delete', 'me:pull', 'me:push']);
      expect(await ops({ resourcePrefix: `${repo}:` })).to.deep.equal(['me:delete', 'me:pull', 'me:push']);
      expect(await ops({ project: repo.split('/')[0]!, outcome: 'failure' })).to.deep.equal(['me:delete']);
      expect(await ops({ principal, resourceType: 'project' })).to.deep.equal(['me:create']);

      const first = await store.queryAudit({ principal }, { page: 1, pageSize: 3 });
      expect(first.total).to.equal(4);
      expect(first.items.map((e) => e.operation)).to.deep.equal(['create', 'delete', 'pull']);
      expect((await store.queryAudit({ principal }, { page: 2, pageSize: 3 })).items.map((e) => e.operation)).to.deep.equal(['push']);
      expect(await store.queryAudit({ principal }, { page: 3, pageSize: 3 })).to.deep.equal({ items: [], total: 4 });
    });

    it('appends a batch in order in one statement, all or nothing', async function () {
      const principal = unique('batch');
      const events = Array.from({ length: 50 }, (_, i) => ({
        principal,
        operation: 'pull' as const,
        resourceType: 'artifact',
        resource: `library/app:${i}`,
        project: 'library',
        outcome: 'success' as const,
        clientAddress: '198.51.100.1',
        detail: { n: i },
        ...(i === 0 ? { at: new Date(Date.UTC(2025, 5, 1)) } : {}),
      }));
      expect(await store.appendAuditBatch(events)).to.equal(50);
      expect(await store.appendAuditBatch([])).to.equal(0);
      const found = await store.queryAudit({ principal }, { page: 1, pageSize: 100 });
      expect(found.total).to.equal(50);
      // Ids follow the batch order; the explicit time is kept, the others are now().
      const byId = [...found.items].sort((a, b) => a.id - b.id);
      expect(byId.map((e) => e.resource)).to.deep.equal(events.map((e) => e.resource));
      expect(byId[0]!.at.toISOString()).to.equal('2025-06-01T00:00:00.000Z');
      expect(byId[1]!.at.getTime()).to.be.greaterThan(Date.UTC(2026, 0, 1));
      expect(byId[7]).to.deep.include({ detail: { n: 7 }, clientAddress: '198.51.100.1', project: 'library', operation: 'pull', resourceType: 'artifact' });
      expect(found.items[found.items.length - 1]!.resource).to.equal('library/app:0');

      const other = unique('batch');
      const bad = [
        { principal: other, operation: 'pull' as const, resourceType: 'artifact', resource: 'r', outcome: 'success' as const },
        { principal: other, operation: 'pull' as const, resourceType: 'artifact', resource: 'r', outcome: 'sometimes' as 'success' },
      ];
      expect(await rejection(store.appendAuditBatch(bad))).to.be.instanceOf(InvalidInputError);
      expect((await store.queryAudit({ principal: other }, { page: 1, pageSize: 10 })).total).to.equal(0);
    });

    it('treats % and _ in a resource prefix as plain characters', async function () {
      const principal = unique('wild');
      await store.appendAudit({ principal, operation: 'pull', resourceType: 'artifact', resource: 'a%b_c/x', outcome: 'success' });
      await store.appendAudit({ principal, operation: 'pull', resourceType: 'artifact', resource: 'aXbYc/x', outcome: 'success' });
      const found = await store.queryAudit({ principal, resourcePrefix: 'a%b_c' }, { page: 1, pageSize: 10 });
      expect(found.items.map((e) => e.resource)).to.deep.equal(['a%b_c/x']);
    });

    it('purges entries older than a time and keeps the rest', async function () {
      const principal = unique('old');
      const old = new Date(Date.UTC(2001, 0, 1));
      await store.appendAudit({ principal, operation: 'pull', resourceType: 'artifact', resource: 'r', outcome: 'success', at: old });
      await store.appendAudit({ principal, operation: 'pull', resourceType: 'artifact', resource: 'r', outcome: 'success', at: new Date(Date.UTC(2001, 0, 2)) });
      await store.appendAudit({ principal, operation: 'push', resourceType: 'artifact', resource: 'r', outcome: 'success' });
      // Other tests' entries are all newer than 2001-01-02, so the count is exact.
      expect(await store.purgeAudit(new Date(Date.UTC(2001, 0, 2)))).to.equal(1);
      const left = await store.queryAudit({ principal }, { page: 1, pageSize: 10 });
      expect(left.items.map((e) => e.operation)).to.deep.equal(['push', 'pull']);
      expect(await store.purgeAudit(old)).to.equal(0);
    });
  });
}
