/**
 * Who is calling, and where the auth layer looks people up. The SQL implementation of
 * these interfaces comes with the users/projects/robots migrations; tests use in-process
 * fakes, since everything here is pure logic over the interfaces.
 */
import type { ProjectRole, RobotPermission } from './permissions.ts';

export const ROBOT_NAME_PREFIX = 'robot$';

export type Principal = AnonymousPrincipal | UserPrincipal | RobotPrincipal;

export interface AnonymousPrincipal {
  kind: 'anonymous';
}

export interface UserPrincipal {
  kind: 'user';
  id: string;
  name: string;
  sysadmin: boolean;
}

export interface RobotPrincipal {
  kind: 'robot';
  id: string;
  /** Full name including the `robot$` prefix (e.g. `robot$library+ci`). */
  name: string;
  level: 'system' | 'project';
  permissions: RobotPermission[];
  disabled: boolean;
  /** Null: never expires. */
  expiresAt: Date | null;
}

export const ANONYMOUS: AnonymousPrincipal = Object.freeze({ kind: 'anonymous' });

export interface UserRecord {
  id: string;
  name: string;
  /** Adaptive hash (argon2id PHC string); never the password. */
  passwordHash: string;
  sysadmin: boolean;
}

export interface RobotRecord {
  id: string;
  name: string;
  /** Hash of the secret (see secrets.ts); the secret itself is shown once and never stored. */
  secretHash: string;
  level: 'system' | 'project';
  permissions: RobotPermission[];
  disabled: boolean;
  expiresAt: Date | null;
}

/** Users and robot accounts by name. */
export interface IdentityStore {
  findUser(name: string): Promise<UserRecord | undefined>;
  findRobot(name: string): Promise<RobotRecord | undefined>;
}

export interface ProjectRecord {
  name: string;
  public: boolean;
}

/** Projects and memberships, as the permission check needs them. */
export interface ProjectDirectory {
  findProject(name: string): Promise<ProjectRecord | undefined>;
  /** The user's role in the project (direct membership), if any. */
  memberRole(project: string, userId: string): Promise<ProjectRole | undefined>;
}

export function userPrincipal(record: UserRecord): UserPrincipal {
  return { kind: 'user', id: record.id, name: record.name, sysadmin: record.sysadmin };
}

export function robotPrincipal(record: RobotRecord): RobotPrincipal {
  return {
    kind: 'robot',
    id: record.id,
    name: record.name,
    level: record.level,
    permissions: record.permissions,
    disabled: record.disabled,
    expiresAt: record.expiresAt,
  };
}

/** A robot that may act now: enabled and not expired. */
export function robotIsActive(robot: Pick<RobotPrincipal, 'disabled' | 'expiresAt'>, now: Date): boolean {
  return !robot.disabled && (robot.expiresAt === null || robot.expiresAt.getTime() > now.getTime());
}

export function principalName(principal: Principal): string {
  return principal.kind === 'anonymous' ? '' : principal.name;
}
