/**
 * The cast of the permission matrix: a user for each project role (members of both the
 * private and the public project), a non-member, a project robot, a system robot and a
 * system administrator, stored through the real SqlAccessStore.
 */
import type { ProjectRole, RobotPermission } from '../../src/auth/permissions.ts';
import { generateSecret, hashSecret } from '../../src/auth/secrets.ts';
import type { Harness } from './harness.ts';
import { pushImage } from './harness.ts';

export const PASSWORD = 'Passw0rd-for-tests';

export const WHO = ['anonymous', 'nonMember', 'limitedGuest', 'guest', 'developer', 'maintainer', 'projectAdmin', 'projectRobot', 'systemRobot', 'admin'] as const;
export type Who = (typeof WHO)[number];

const ROLE_USERS: Array<[Who, ProjectRole]> = [
  ['limitedGuest', 'limitedGuest'],
  ['guest', 'guest'],
  ['developer', 'developer'],
  ['maintainer', 'maintainer'],
  ['projectAdmin', 'projectAdmin'],
];

export const PROJECT_ROBOT_PERMISSIONS: RobotPermission[] = [
  {
    kind: 'project',
    namespace: 'priv',
    access: [
      { resource: 'repository', action: 'pull' },
      { resource: 'repository', action: 'push' },
      { resource: 'repository', action: 'list' },
      { resource: 'artifact', action: 'read' },
      { resource: 'artifact', action: 'list' },
      { resource: 'tag', action: 'list' },
      { resource: 'tag', action: 'create' },
    ],
  },
];

export const SYSTEM_ROBOT_PERMISSIONS: RobotPermission[] = [
  {
    kind: 'system',
    namespace: '/',
    access: [
      { resource: 'audit-log', action: 'list' },
      { resource: 'catalog', action: 'read' },
    ],
  },
  {
    kind: 'project',
    namespace: '*',
    access: [
      { resource: 'repository', action: 'list' },
      { resource: 'repository', action: 'pull' },
      { resource: 'artifact', action: 'list' },
    ],
  },
];

export interface Cast {
  creds: Record<Who, readonly [string, string] | undefined>;
  userIds: Partial<Record<Who, number>>;
  projects: { priv: number; pub: number };
  digests: { priv: string; pub: string };
}

export async function seedCast(h: Harness): Promise<Cast> {
  const hash = await h.auth.passwords.hash(PASSWORD);
  const creds = { anonymous: undefined } as Record<Who, readonly [string, string] | undefined>;
  const userIds: Partial<Record<Who, number>> = {};
  const admin = await h.access.createUser({ name: 'root', passwordHash: hash, sysadmin: true });
  userIds.admin = admin.id;
  creds.admin = ['root', PASSWORD];
  const outsider = await h.access.createUser({ name: 'outsider', passwordHash: hash });
  userIds.nonMember = outsider.id;
  creds.nonMember = ['outsider', PASSWORD];
  const priv = await h.access.createProject({ name: 'priv', public: false });
  const pub = await h.access.createProject({ name: 'pub', public: true });
  for (const [who, role] of ROLE_USERS) {
    const user = await h.access.createUser({ name: `u-${who.toLowerCase()}`, passwordHash: hash });
    userIds[who] = user.id;
    creds[who] = [user.name, PASSWORD];
    await h.access.addMember(priv.id, user.id, role);
    await h.access.addMember(pub.id, user.id, role);
  }
  const projectSecret = generateSecret();
  await h.access.createRobot({
    name: 'robot$priv+ci',
    level: 'project',
    projectId: priv.id,
    secretHash: hashSecret(projectSecret),
    permissions: PROJECT_ROBOT_PERMISSIONS,
    expiresAt: null,
    creator: 'root',
  });
  creds.projectRobot = ['robot$priv+ci', projectSecret];
  const systemSecret = generateSecret();
  await h.access.createRobot({
    name: 'robot$ops',
    level: 'system',
    secretHash: hashSecret(systemSecret),
    permissions: SYSTEM_ROBOT_PERMISSIONS,
    expiresAt: null,
    creator: 'root',
  });
  creds.systemRobot = ['robot$ops', systemSecret];
  const tags = ['v1', ...WHO.map((w) => `d-${w}`)];
  const digests = {
    priv: await pushImage(h.metadata, 'priv/app', tags, 'priv'),
    pub: await pushImage(h.metadata, 'pub/app', tags, 'pub'),
  };
  return { creds, userIds, projects: { priv: priv.id, pub: pub.id }, digests };
}
