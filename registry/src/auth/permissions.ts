/**
 * The permission model, as data, following Harbor (src/common/rbac/project/rbac_role.go)
 * so Harbor users feel at home. Deliberate differences, each narrower than Harbor:
 *  - Maintainer only reads project metadata (the issue: "not members or settings").
 *  - Developer has no tag-retention rights (Harbor grants CRUD there, which lets a
 *    developer delete by policy; the issue: "no deletes").
 *  - Helm chart museum resources are gone (Harbor removed ChartMuseum in 2.8).
 *
 * `grantedActions` is the one function the token endpoint and Basic auth both use to turn a
 * requested scope into what the caller may actually do.
 */
import type { Principal } from './identity.ts';
import { robotIsActive } from './identity.ts';
import type { Scope } from './scope.ts';

export const PROJECT_ROLES = ['projectAdmin', 'maintainer', 'developer', 'guest', 'limitedGuest'] as const;
export type ProjectRole = (typeof PROJECT_ROLES)[number];

/** Harbor's numeric role ids (API `role_id`), for API compatibility. */
export const PROJECT_ROLE_IDS: Readonly<Record<ProjectRole, number>> = {
  projectAdmin: 1,
  developer: 2,
  guest: 3,
  maintainer: 4,
  limitedGuest: 5,
};

/** Resources inside a project. `project` is Harbor's "self" resource. */
export const PROJECT_RESOURCES = [
  'project',
  'member',
  'metadata',
  'log',
  'label',
  'quota',
  'repository',
  'tag-retention',
  'immutable-tag',
  'configuration',
  'robot',
  'notification-policy',
  'scan',
  'scanner',
  'artifact',
  'artifact-addition',
  'tag',
  'accessory',
  'artifact-label',
  'preheat-policy',
] as const;
export type ProjectResource = (typeof PROJECT_RESOURCES)[number];

/** Resources of the whole system (kind "system" robot permissions, namespace "/"). */
export const SYSTEM_RESOURCES = [
  'catalog',
  'project',
  'user',
  'robot',
  'audit-log',
  'configuration',
  'garbage-collection',
  'replication',
  'scan-all',
] as const;
export type SystemResource = (typeof SYSTEM_RESOURCES)[number];

export const ACTIONS = ['create', 'read', 'update', 'delete', 'list', 'pull', 'push', 'operate', 'stop'] as const;
export type Action = (typeof ACTIONS)[number];

export type PermissionSet = Readonly<Partial<Record<ProjectResource, readonly Action[]>>>;

const CRUDL: readonly Action[] = ['create', 'read', 'update', 'delete', 'list'];

export const ROLE_PERMISSIONS: Readonly<Record<ProjectRole, PermissionSet>> = {
  projectAdmin: {
    project: ['read', 'update', 'delete'],
    member: CRUDL,
    metadata: ['create', 'read', 'update', 'delete'],
    log: ['list'],
    label: CRUDL,
    quota: ['read'],
    repository: [...CRUDL, 'pull', 'push'],
    'tag-retention': [...CRUDL, 'operate'],
    'immutable-tag': ['create', 'update', 'delete', 'list'],
    configuration: ['read', 'update'],
    robot: CRUDL,
    'notification-policy': CRUDL,
    scan: ['create', 'read', 'stop'],
    scanner: ['create', 'read'],
    artifact: ['create', 'read', 'delete', 'list'],
    'artifact-addition': ['read'],
    tag: ['create', 'delete', 'list'],
    accessory: ['list'],
    'artifact-label': ['create', 'delete'],
    'preheat-policy': CRUDL,
  },
  maintainer: {
    project: ['read'],
    member: ['read', 'list'],
    metadata: ['read'],
    log: ['list'],
    label: CRUDL,
    quota: ['read'],
    repository: [...CRUDL, 'pull', 'push'],
    'tag-retention': [...CRUDL, 'operate'],
    'immutable-tag': ['create', 'update', 'delete', 'list'],
    configuration: ['read'],
    robot: ['read', 'list'],
    'notification-policy': ['list'],
    scan: ['create', 'read', 'stop'],
    scanner: ['read'],
    artifact: ['create', 'read', 'delete', 'list'],
    'artifact-addition': ['read'],
    tag: ['create', 'delete', 'list'],
    accessory: ['list'],
    'artifact-label': ['create', 'delete'],
  },
  developer: {
    project: ['read'],
    member: ['read', 'list'],
    log: ['list'],
    label: ['read', 'list'],
    quota: ['read'],
    repository: ['create', 'read', 'update', 'list', 'pull', 'push'],
    configuration: ['read'],
    robot: ['read', 'list'],
    scan: ['read'],
    scanner: ['read'],
    artifact: ['create', 'read', 'list'],
    'artifact-addition': ['read'],
    tag: ['create', 'list'],
    accessory: ['list'],
    'artifact-label': ['create', 'delete'],
  },
  guest: {
    project: ['read'],
    member: ['read', 'list'],
    log: ['list'],
    label: ['read', 'list'],
    quota: ['read'],
    repository: ['read', 'list', 'pull'],
    configuration: ['read'],
    robot: ['read', 'list'],
    scan: ['read'],
    scanner: ['read'],
    artifact: ['read', 'list'],
    'artifact-addition': ['read'],
    tag: ['list'],
    accessory: ['list'],
  },
  limitedGuest: {
    project: ['read'],
    quota: ['read'],
    repository: ['list', 'pull'],
    configuration: ['read'],
    scan: ['read'],
    scanner: ['read'],
    artifact: ['read', 'list'],
    'artifact-addition': ['read'],
    tag: ['list'],
    accessory: ['list'],
  },
};

/** What anyone (anonymous included) may do in a public project: read content. */
export const PUBLIC_PROJECT_PERMISSIONS: PermissionSet = {
  project: ['read'],
  repository: ['read', 'list', 'pull'],
  artifact: ['read', 'list'],
  'artifact-addition': ['read'],
  tag: ['list'],
  accessory: ['list'],
  scan: ['read'],
};

/** One robot permission, Harbor's shape: `{kind, namespace, access: [{resource, action, effect}]}`. */
export interface RobotPermission {
  kind: 'project' | 'system';
  /** Project name for kind "project" ("*" = every project, system robots only); "/" for kind "system". */
  namespace: string;
  access: RobotAccess[];
}

export interface RobotAccess {
  resource: string;
  action: string;
  /** Default "allow"; a "deny" wins over any allow. */
  effect?: 'allow' | 'deny';
}

/** What the permission check needs to know about one project, for one principal. */
export interface ProjectContext {
  name: string;
  public: boolean;
  /** The principal's member role, when the principal is a user who is a member. */
  role?: ProjectRole;
}

export interface SystemPolicy {
  /** Harbor's "project creation restriction": everyone (default) or admins only. */
  projectCreation: 'everyone' | 'adminonly';
}

export const DEFAULT_SYSTEM_POLICY: SystemPolicy = { projectCreation: 'everyone' };

/**
 * May `principal` do `action` on `resource` of `project`? Undefined project: the project
 * does not exist, so nothing is allowed (the caller says so in its message).
 */
export function canInProject(
  principal: Principal,
  project: ProjectContext | undefined,
  resource: ProjectResource,
  action: Action,
  now: Date = new Date(),
): boolean {
  if (project === undefined) return false;
  if (project.public && includes(PUBLIC_PROJECT_PERMISSIONS, resource, action)) return true;
  switch (principal.kind) {
    case 'anonymous':
      return false;
    case 'user':
      if (principal.sysadmin) return true;
      return project.role !== undefined && includes(ROLE_PERMISSIONS[project.role], resource, action);
    case 'robot':
      if (!robotIsActive(principal, now)) return false;
      return robotAllows(principal.permissions, 'project', project.name, resource, action, principal.level);
  }
}

/** May `principal` do `action` on a system resource (catalog, users, audit log, ...)? */
export function canInSystem(
  principal: Principal,
  resource: SystemResource,
  action: Action,
  policy: SystemPolicy = DEFAULT_SYSTEM_POLICY,
  now: Date = new Date(),
): boolean {
  switch (principal.kind) {
    case 'anonymous':
      return false;
    case 'user':
      if (principal.sysadmin) return true;
      return resource === 'project' && action === 'create' && policy.projectCreation === 'everyone';
    case 'robot':
      if (!robotIsActive(principal, now) || principal.level !== 'system') return false;
      return robotAllows(principal.permissions, 'system', '/', resource, action, principal.level);
  }
}

/**
 * The actions of `requested` the principal may perform: requested ∩ allowed, in requested
 * order. Anything not allowed (a scope escalation included) is simply dropped; an unknown
 * type or action grants nothing.
 *
 * `project` is the context of the repository's project (see `projectOf`); unused for
 * `registry` scopes.
 */
export function grantedActions(
  principal: Principal,
  project: ProjectContext | undefined,
  requested: Scope,
  now: Date = new Date(),
): string[] {
  if (requested.type === 'repository' && requested.class === undefined) {
    return requested.actions.filter((action) => repositoryActionAllowed(principal, project, action, now));
  }
  if (requested.type === 'registry' && requested.name === 'catalog') {
    // The catalog lists every repository, so only callers who may see everything get it.
    const allowed = canInSystem(principal, 'catalog', 'read', DEFAULT_SYSTEM_POLICY, now);
    return allowed ? requested.actions.filter((action) => action === '*') : [];
  }
  return [];
}

function repositoryActionAllowed(
  principal: Principal,
  project: ProjectContext | undefined,
  action: string,
  now: Date,
): boolean {
  switch (action) {
    case 'pull':
      return canInProject(principal, project, 'repository', 'pull', now);
    case 'push':
      return canInProject(principal, project, 'repository', 'push', now);
    case 'delete':
      // A /v2 DELETE removes manifests, tags or blobs: Harbor checks artifact delete.
      return canInProject(principal, project, 'artifact', 'delete', now);
    case '*':
      return ['pull', 'push', 'delete'].every((a) => repositoryActionAllowed(principal, project, a, now));
    default:
      return false;
  }
}

function robotAllows(
  permissions: readonly RobotPermission[],
  kind: 'project' | 'system',
  namespace: string,
  resource: string,
  action: string,
  level: 'system' | 'project',
): boolean {
  let allowed = false;
  for (const permission of permissions) {
    if (permission.kind !== kind) continue;
    // "*" covers every project, but only a system robot may hold it.
    const matches = permission.namespace === namespace || (kind === 'project' && permission.namespace === '*' && level === 'system');
    if (!matches) continue;
    for (const access of permission.access) {
      if (access.resource !== resource || (access.action !== action && access.action !== '*')) continue;
      if (access.effect === 'deny') return false;
      allowed = true;
    }
  }
  return allowed;
}

function includes(set: PermissionSet, resource: ProjectResource, action: Action): boolean {
  return set[resource]?.includes(action) ?? false;
}

/**
 * "A robot can never grant more than its creator holds": the accesses in `permissions`
 * that `creator` does not hold itself. Empty means the robot may be created as asked.
 * `projects` gives the creator's context in each named project (missing = no such project).
 */
export function accessesBeyondCreator(
  creator: Principal,
  projects: ReadonlyMap<string, ProjectContext>,
  permissions: readonly RobotPermission[],
  now: Date = new Date(),
): Array<{ kind: RobotPermission['kind']; namespace: string; resource: string; action: string }> {
  const beyond: Array<{ kind: RobotPermission['kind']; namespace: string; resource: string; action: string }> = [];
  const creatorIsAdmin = creator.kind === 'user' && creator.sysadmin;
  for (const permission of permissions) {
    for (const access of permission.access) {
      if (access.effect === 'deny') continue;
      let held: boolean;
      if (creatorIsAdmin) {
        held = isKnownAccess(permission.kind, access);
      } else if (permission.kind === 'system') {
        held = permission.namespace === '/' && isKnownAccess('system', access) &&
          canInSystem(creator, access.resource as SystemResource, access.action as Action, DEFAULT_SYSTEM_POLICY, now);
      } else if (permission.namespace === '*') {
        held = false;
      } else {
        held = isKnownAccess('project', access) &&
          canInProject(creator, projects.get(permission.namespace), access.resource as ProjectResource, access.action as Action, now);
      }
      if (!held) beyond.push({ kind: permission.kind, namespace: permission.namespace, resource: access.resource, action: access.action });
    }
  }
  return beyond;
}

function isKnownAccess(kind: 'project' | 'system', access: RobotAccess): boolean {
  const resources: readonly string[] = kind === 'project' ? PROJECT_RESOURCES : SYSTEM_RESOURCES;
  return resources.includes(access.resource) && (ACTIONS as readonly string[]).includes(access.action);
}
