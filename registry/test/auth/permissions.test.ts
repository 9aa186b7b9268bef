import { expect } from 'chai';
import type { Principal, RobotPrincipal } from '../../src/auth/identity.ts';
import { ANONYMOUS } from '../../src/auth/identity.ts';
import {
  accessesBeyondCreator,
  canInProject,
  canInSystem,
  grantedActions,
  PROJECT_ROLES,
  ROLE_PERMISSIONS,
  type ProjectContext,
  type ProjectRole,
} from '../../src/auth/permissions.ts';
import { parseScope } from '../../src/auth/scope.ts';
import { EXPECTED, type MatrixPrincipal } from './matrix.ts';

const NOW = new Date(Date.UTC(2026, 10, 23, 12));

function user(name: string, sysadmin = false): Principal {
  return { kind: 'user', id: `id-${name}`, name, sysadmin };
}

function robot(overrides: Partial<RobotPrincipal>): RobotPrincipal {
  return { kind: 'robot', id: 'r1', name: 'robot$x', level: 'project', permissions: [], disabled: false, expiresAt: null, ...overrides };
}

const projectRobot = robot({
  name: 'robot$team+ci',
  level: 'project',
  permissions: [{ kind: 'project', namespace: 'team', access: [{ resource: 'repository', action: 'pull' }, { resource: 'repository', action: 'push' }] }],
});
const systemRobot = robot({
  name: 'robot$mirror',
  level: 'system',
  permissions: [
    { kind: 'project', namespace: '*', access: [{ resource: 'repository', action: 'pull' }] },
    { kind: 'system', namespace: '/', access: [{ resource: 'catalog', action: 'read' }] },
  ],
});

interface Who {
  label: MatrixPrincipal;
  principal: Principal;
  role?: ProjectRole;
}

const WHO: Who[] = [
  { label: 'anonymous', principal: ANONYMOUS },
  { label: 'projectAdmin', principal: user('pa'), role: 'projectAdmin' },
  { label: 'maintainer', principal: user('ma'), role: 'maintainer' },
  { label: 'developer', principal: user('de'), role: 'developer' },
  { label: 'guest', principal: user('gu'), role: 'guest' },
  { label: 'limitedGuest', principal: user('lg'), role: 'limitedGuest' },
  { label: 'non-member', principal: user('nm') },
  { label: 'project robot', principal: projectRobot },
  { label: 'system robot', principal: systemRobot },
  { label: 'system admin', principal: user('admin', true) },
];

describe('auth/permissions: the access matrix (grantedActions)', () => {
  for (const visibility of ['private', 'public'] as const) {
    for (const who of WHO) {
      const expected = EXPECTED[visibility][who.label];
      it(`${who.label} on a ${visibility} project: pull=${expected.pull} push=${expected.push} delete=${expected.delete} catalog=${expected.catalog}`, () => {
        const project: ProjectContext = { name: 'team', public: visibility === 'public' };
        if (who.role) project.role = who.role;
        for (const action of ['pull', 'push', 'delete'] as const) {
          const granted = grantedActions(who.principal, project, parseScope(`repository:team/app:${action}`), NOW);
          expect(granted, `${who.label} ${action}`).to.deep.equal(expected[action] ? [action] : []);
        }
        const catalog = grantedActions(who.principal, project, parseScope('registry:catalog:*'), NOW);
        expect(catalog, `${who.label} catalog`).to.deep.equal(expected.catalog ? ['*'] : []);
      });
    }
  }

  it('covers every row of the matrix', () => {
    expect(WHO.map((w) => w.label).sort()).to.deep.equal(Object.keys(EXPECTED.private).sort());
  });

  it('drops a scope escalation: a guest asking for pull,push,delete,* gets pull', () => {
    const project: ProjectContext = { name: 'team', public: false, role: 'guest' };
    expect(grantedActions(user('g'), project, parseScope('repository:team/app:pull,push,delete,*'), NOW)).to.deep.equal(['pull']);
  });

  it('grants * only to who may pull, push and delete', () => {
    const scope = parseScope('repository:team/app:*');
    expect(grantedActions(user('a'), { name: 'team', public: false, role: 'projectAdmin' }, scope, NOW)).to.deep.equal(['*']);
    expect(grantedActions(user('d'), { name: 'team', public: false, role: 'developer' }, scope, NOW)).to.deep.equal([]);
  });

  it('grants nothing in a project that does not exist, even to an admin', () => {
    expect(grantedActions(user('admin', true), undefined, parseScope('repository:nope/app:pull,push'), NOW)).to.deep.equal([]);
  });

  it('grants nothing for unknown types, classes or actions', () => {
    const project: ProjectContext = { name: 'team', public: true, role: 'projectAdmin' };
    expect(grantedActions(user('a', true), project, parseScope('repository:team/app:frobnicate'), NOW)).to.deep.equal([]);
    expect(grantedActions(user('a', true), project, parseScope('repository(plugin):team/app:pull'), NOW)).to.deep.equal([]);
    expect(grantedActions(user('a', true), project, parseScope('registry:other:*'), NOW)).to.deep.equal([]);
    expect(grantedActions(user('a', true), project, parseScope('widget:team/app:pull'), NOW)).to.deep.equal([]);
  });

  it('a project robot has no rights in another project', () => {
    const other: ProjectContext = { name: 'other', public: false };
    expect(grantedActions(projectRobot, other, parseScope('repository:other/app:pull'), NOW)).to.deep.equal([]);
  });

  it('a project-level robot cannot use the "*" namespace; a system robot can', () => {
    const sneaky = robot({ level: 'project', permissions: [{ kind: 'project', namespace: '*', access: [{ resource: 'repository', action: 'pull' }] }] });
    const project: ProjectContext = { name: 'team', public: false };
    expect(grantedActions(sneaky, project, parseScope('repository:team/app:pull'), NOW)).to.deep.equal([]);
    expect(grantedActions(systemRobot, project, parseScope('repository:team/app:pull'), NOW)).to.deep.equal(['pull']);
  });

  it('disabled and expired robots get nothing, not even on what they were granted', () => {
    const project: ProjectContext = { name: 'team', public: false };
    const scope = parseScope('repository:team/app:pull');
    expect(grantedActions({ ...projectRobot, disabled: true }, project, scope, NOW)).to.deep.equal([]);
    expect(grantedActions({ ...projectRobot, expiresAt: new Date(NOW.getTime() - 1000) }, project, scope, NOW)).to.deep.equal([]);
    expect(grantedActions({ ...projectRobot, expiresAt: new Date(NOW.getTime() + 1000) }, project, scope, NOW)).to.deep.equal(['pull']);
  });

  it('a deny effect wins over an allow', () => {
    const denied = robot({
      permissions: [
        { kind: 'project', namespace: 'team', access: [{ resource: 'repository', action: 'pull' }, { resource: 'repository', action: 'push' }] },
        { kind: 'project', namespace: 'team', access: [{ resource: 'repository', action: 'push', effect: 'deny' }] },
      ],
    });
    const project: ProjectContext = { name: 'team', public: false };
    expect(grantedActions(denied, project, parseScope('repository:team/app:pull,push'), NOW)).to.deep.equal(['pull']);
  });
});

describe('auth/permissions: Harbor role permission sets', () => {
  it('each role holds no more than the role above it', () => {
    const ladder: ProjectRole[] = ['limitedGuest', 'guest', 'developer', 'maintainer', 'projectAdmin'];
    for (let i = 0; i + 1 < ladder.length; i++) {
      const lower = ROLE_PERMISSIONS[ladder[i] as ProjectRole];
      const upper = ROLE_PERMISSIONS[ladder[i + 1] as ProjectRole];
      for (const [resource, actions] of Object.entries(lower)) {
        for (const action of actions ?? []) {
          expect(upper[resource as keyof typeof upper] ?? [], `${ladder[i + 1]} lacks ${resource}:${action} that ${ladder[i]} has`).to.include(action);
        }
      }
    }
  });

  const p = (role: ProjectRole): ProjectContext => ({ name: 'team', public: false, role });
  const member = user('m');
  const checks: Array<[ProjectRole, Parameters<typeof canInProject>[2], Parameters<typeof canInProject>[3], boolean]> = [
    ['projectAdmin', 'member', 'create', true],
    ['projectAdmin', 'robot', 'create', true],
    ['projectAdmin', 'metadata', 'update', true],
    ['projectAdmin', 'project', 'delete', true],
    ['maintainer', 'member', 'create', false],
    ['maintainer', 'metadata', 'update', false],
    ['maintainer', 'robot', 'create', false],
    ['maintainer', 'repository', 'delete', true],
    ['maintainer', 'tag', 'delete', true],
    ['maintainer', 'artifact', 'delete', true],
    ['developer', 'repository', 'push', true],
    ['developer', 'tag', 'create', true],
    ['developer', 'tag', 'delete', false],
    ['developer', 'artifact', 'delete', false],
    ['developer', 'repository', 'delete', false],
    ['guest', 'repository', 'pull', true],
    ['guest', 'repository', 'push', false],
    ['guest', 'member', 'list', true],
    ['guest', 'robot', 'list', true],
    ['guest', 'label', 'list', true],
    ['limitedGuest', 'repository', 'pull', true],
    ['limitedGuest', 'member', 'list', false],
    ['limitedGuest', 'robot', 'list', false],
    ['limitedGuest', 'label', 'list', false],
  ];
  for (const [role, resource, action, allowed] of checks) {
    it(`${role} ${allowed ? 'may' : 'may not'} ${action} ${resource}`, () => {
      expect(canInProject(member, p(role), resource, action, NOW)).to.equal(allowed);
    });
  }

  it('every role exists in the table', () => {
    expect(Object.keys(ROLE_PERMISSIONS).sort()).to.deep.equal([...PROJECT_ROLES].sort());
  });

  it('system resources: admins everything, users create projects by default, system robots what they hold', () => {
    expect(canInSystem(user('a', true), 'user', 'create')).to.equal(true);
    expect(canInSystem(user('u'), 'project', 'create')).to.equal(true);
    expect(canInSystem(user('u'), 'project', 'create', { projectCreation: 'adminonly' })).to.equal(false);
    expect(canInSystem(user('u'), 'audit-log', 'list')).to.equal(false);
    expect(canInSystem(ANONYMOUS, 'project', 'create')).to.equal(false);
    expect(canInSystem(systemRobot, 'catalog', 'read', undefined, NOW)).to.equal(true);
    expect(canInSystem(systemRobot, 'user', 'create', undefined, NOW)).to.equal(false);
    // A project-level robot never holds system rights, whatever its permission list says.
    const forged = robot({ level: 'project', permissions: [{ kind: 'system', namespace: '/', access: [{ resource: 'catalog', action: 'read' }] }] });
    expect(canInSystem(forged, 'catalog', 'read', undefined, NOW)).to.equal(false);
  });
});

describe('auth/permissions: a robot never exceeds its creator', () => {
  const projects = new Map<string, ProjectContext>([
    ['team', { name: 'team', public: false, role: 'maintainer' }],
    ['other', { name: 'other', public: false }],
  ]);

  it('allows what the creator holds', () => {
    const beyond = accessesBeyondCreator(user('m'), projects, [
      { kind: 'project', namespace: 'team', access: [{ resource: 'repository', action: 'pull' }, { resource: 'repository', action: 'push' }, { resource: 'artifact', action: 'delete' }] },
    ], NOW);
    expect(beyond).to.deep.equal([]);
  });

  it('lists what the creator does not hold', () => {
    const beyond = accessesBeyondCreator(user('m'), projects, [
      { kind: 'project', namespace: 'team', access: [{ resource: 'member', action: 'create' }, { resource: 'repository', action: 'pull' }] },
      { kind: 'project', namespace: 'other', access: [{ resource: 'repository', action: 'pull' }] },
      { kind: 'project', namespace: '*', access: [{ resource: 'repository', action: 'pull' }] },
      { kind: 'system', namespace: '/', access: [{ resource: 'user', action: 'create' }] },
      { kind: 'project', namespace: 'team', access: [{ resource: 'no-such-thing', action: 'read' }] },
    ], NOW);
    expect(beyond).to.deep.equal([
      { kind: 'project', namespace: 'team', resource: 'member', action: 'create' },
      { kind: 'project', namespace: 'other', resource: 'repository', action: 'pull' },
      { kind: 'project', namespace: '*', resource: 'repository', action: 'pull' },
      { kind: 'system', namespace: '/', resource: 'user', action: 'create' },
      { kind: 'project', namespace: 'team', resource: 'no-such-thing', action: 'read' },
    ]);
  });

  it('a system admin may grant any known access, but nothing unknown', () => {
    const beyond = accessesBeyondCreator(user('root', true), projects, [
      { kind: 'project', namespace: '*', access: [{ resource: 'repository', action: 'push' }] },
      { kind: 'system', namespace: '/', access: [{ resource: 'catalog', action: 'read' }, { resource: 'bogus', action: 'read' }] },
    ], NOW);
    expect(beyond).to.deep.equal([{ kind: 'system', namespace: '/', resource: 'bogus', action: 'read' }]);
  });
});
