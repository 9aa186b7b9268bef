/**
 * The access-control seam: projects, users, project members, robot accounts and the audit
 * log, as the auth layer (IdentityStore, ProjectDirectory) and the Harbor-style management
 * API need them. The schema is defined and documented in migrations/0002_access.sql; the
 * SQL implementation (sql-access-store.ts) passes registry/test/metadata/access-suite.ts.
 *
 * Ids are numbers here (Harbor's API carries integer ids). The auth layer's records carry
 * them as strings: UserRecord.id / RobotRecord.id = String(id), and memberRole() takes that
 * string back.
 *
 * Conventions:
 *  - get*() return undefined when the record does not exist.
 *  - update*() / delete*() / set*() of a record that does not exist throw NotFoundError.
 *  - A name or email already taken throws ConflictError; input the schema refuses (a role
 *    that is not a ProjectRole, a robot name without "robot$", ...) throws InvalidInputError.
 *  The API maps these three to 404, 409 and 400 in one place (ProjectNotEmptyError, a
 *  ConflictError, is Harbor's 412 on project delete).
 */
import type { IdentityStore, ProjectDirectory } from '../auth/identity.ts';
import type { ProjectRole, RobotPermission } from '../auth/permissions.ts';
import type { OffsetPage, Paged } from './store.ts';

// --- Errors (defined in ./errors.ts, shared with the metadata store's management listings) ---

export {
  AccessStoreError,
  ConflictError,
  InvalidInputError,
  isAccessStoreError,
  NotFoundError,
  ProjectNotEmptyError,
  type AccessStoreErrorCode,
} from './errors.ts';

// --- Pagination (defined with the metadata seam, shared by both) ---

export type { OffsetPage, Paged } from './store.ts';

// --- Projects ---

export interface Project {
  id: number;
  name: string;
  public: boolean;
  /** Bytes; -1 = unlimited. */
  storageLimit: number;
  ownerId: number | null;
  ownerName: string | null;
  /** Harbor metadata keys other than "public" (the `public` field is the truth for that). */
  metadata: Record<string, string>;
  /** Repositories whose first path component is this project. */
  repositoryCount: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface NewProject {
  name: string;
  public?: boolean;
  storageLimit?: number;
  metadata?: Record<string, string>;
  /** The creating user: recorded as owner and made projectAdmin member, in one transaction. */
  ownerId?: number;
}

export interface ProjectUpdate {
  public?: boolean;
  storageLimit?: number;
  /** Merged into the stored metadata; a null value removes the key. */
  metadata?: Record<string, string | null>;
}

export interface ProjectFilter {
  /** Substring of the name. */
  name?: string;
  public?: boolean;
  /** Only projects this user is a member of. */
  memberUserId?: number;
  /** Only projects this user may see: public ones and those the user is a member of. */
  visibleToUserId?: number;
}

// --- Members ---

export interface ProjectMember {
  /** Membership id (Harbor's member id). */
  id: number;
  projectId: number;
  userId: number;
  userName: string;
  role: ProjectRole;
  createdAt: Date;
  updatedAt: Date;
}

export interface MemberFilter {
  /** Substring of the user name (Harbor's `entityname`). */
  userName?: string;
}

/** One project of a user, with the user's role in it. */
export interface UserProject {
  projectId: number;
  projectName: string;
  public: boolean;
  role: ProjectRole;
}

// --- Users ---

/** A user as the management API shows it: never the password hash. */
export interface User {
  id: number;
  name: string;
  email: string | null;
  realname: string;
  comment: string;
  sysadmin: boolean;
  disabled: boolean;
  /** Whether a password login is possible (a password hash is set). */
  hasPassword: boolean;
  passwordChangedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface NewUser {
  name: string;
  email?: string | null;
  realname?: string;
  comment?: string;
  /** Adaptive hash of the password (secrets.ts); null for users without a password login. */
  passwordHash: string | null;
  sysadmin?: boolean;
}

export interface UserUpdate {
  email?: string | null;
  realname?: string;
  comment?: string;
  sysadmin?: boolean;
  disabled?: boolean;
}

export interface UserFilter {
  /** Substring of the login name, case-insensitive. */
  name?: string;
  /** Substring of the email, case-insensitive. */
  email?: string;
}

// --- Robots ---

export interface Robot {
  id: number;
  /** Full name with the `robot$` prefix. */
  name: string;
  description: string;
  level: 'system' | 'project';
  /** The owning project of a project-level robot; null for system robots. */
  projectId: number | null;
  projectName: string | null;
  permissions: RobotPermission[];
  disabled: boolean;
  /** Lifetime in days asked for at creation; -1 = never expires. */
  durationDays: number;
  expiresAt: Date | null;
  creator: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface NewRobot {
  /** Full name with the `robot$` prefix. */
  name: string;
  description?: string;
  level: 'system' | 'project';
  /** Required for project robots, absent for system robots. */
  projectId?: number;
  secretHash: string;
  permissions: RobotPermission[];
  disabled?: boolean;
  durationDays?: number;
  expiresAt: Date | null;
  creator: string;
}

export interface RobotUpdate {
  description?: string;
  permissions?: RobotPermission[];
  disabled?: boolean;
  durationDays?: number;
  expiresAt?: Date | null;
}

export interface RobotFilter {
  level?: 'system' | 'project';
  projectId?: number;
  /** Substring of the name. */
  name?: string;
}

// --- Audit log ---

/** The operations Berth records; the column accepts others, so new ones need no migration. */
export type AuditOperation = 'push' | 'pull' | 'delete' | 'login' | 'logout' | 'create' | 'update';

export interface AuditEvent {
  /** Name of the user or robot; for a failed login, the name that was tried. */
  principal: string;
  operation: AuditOperation;
  /** artifact, repository, tag, project, member, robot, user, ... */
  resourceType: string;
  resource: string;
  /** The project the resource belongs to, if any. */
  project?: string;
  outcome: 'success' | 'failure';
  clientAddress?: string;
  /** Extra facts; never a password, secret or token. */
  detail?: Record<string, unknown>;
  /** Defaults to the database's now(). */
  at?: Date;
}

export interface AuditEntry {
  id: number;
  at: Date;
  principal: string;
  operation: string;
  resourceType: string;
  resource: string;
  project: string | null;
  outcome: 'success' | 'failure';
  clientAddress: string | null;
  detail: Record<string, unknown> | null;
}

export interface AuditFilter {
  /** Inclusive. */
  from?: Date;
  /** Exclusive. */
  to?: Date;
  principal?: string;
  operation?: string;
  resourceType?: string;
  /** Exact resource. */
  resource?: string;
  /** Resources starting with this text (e.g. "library/nginx" for a repository's entries). */
  resourcePrefix?: string;
  project?: string;
  outcome?: 'success' | 'failure';
}

// --- The store ---

/**
 * Everything the auth layer and the management API store about access. As an IdentityStore,
 * findUser() does not find a disabled user or one without a password, so nothing can log in
 * as them; findRobot() finds disabled and expired robots (the auth layer says why it refuses).
 */
export interface AccessStore extends IdentityStore, ProjectDirectory {
  // Projects.
  createProject(project: NewProject): Promise<Project>;
  getProject(id: number): Promise<Project | undefined>;
  getProjectByName(name: string): Promise<Project | undefined>;
  /** Ordered by name. */
  listProjects(filter: ProjectFilter, page: OffsetPage): Promise<Paged<Project>>;
  updateProject(id: number, update: ProjectUpdate): Promise<Project>;
  /**
   * Delete a project with its members and project robots, and drop its namespace from
   * system robots' permissions. A project with repositories throws ProjectNotEmptyError
   * unless `force`, which deletes the repositories (manifests, tags, blob links) too.
   */
  deleteProject(id: number, options?: { force?: boolean }): Promise<void>;
  /** Repository counts of the named projects (0 for a project without repositories). */
  repositoryCounts(projectNames: string[]): Promise<Map<string, number>>;

  // Members.
  addMember(projectId: number, userId: number, role: ProjectRole): Promise<ProjectMember>;
  getMember(projectId: number, memberId: number): Promise<ProjectMember | undefined>;
  /** Ordered by user name; empty for a project that does not exist. */
  listMembers(projectId: number, filter: MemberFilter, page: OffsetPage): Promise<Paged<ProjectMember>>;
  updateMemberRole(projectId: number, memberId: number, role: ProjectRole): Promise<ProjectMember>;
  removeMember(projectId: number, memberId: number): Promise<void>;
  /** The user's projects with the user's role in each, ordered by project name. */
  userProjects(userId: number): Promise<UserProject[]>;

  // Users.
  createUser(user: NewUser): Promise<User>;
  getUser(id: number): Promise<User | undefined>;
  getUserByName(name: string): Promise<User | undefined>;
  /** Ordered by name. */
  listUsers(filter: UserFilter, page: OffsetPage): Promise<Paged<User>>;
  updateUser(id: number, update: UserUpdate): Promise<User>;
  /** Also records the change time (User.passwordChangedAt). */
  setUserPassword(id: number, passwordHash: string): Promise<void>;
  /** Memberships go with the user; projects it owned keep no owner. */
  deleteUser(id: number): Promise<void>;
  /** Enabled system administrators (the API refuses to remove the last one). */
  countAdmins(): Promise<number>;

  // Robots.
  createRobot(robot: NewRobot): Promise<Robot>;
  getRobot(id: number): Promise<Robot | undefined>;
  getRobotByName(name: string): Promise<Robot | undefined>;
  /** Ordered by name. */
  listRobots(filter: RobotFilter, page: OffsetPage): Promise<Paged<Robot>>;
  updateRobot(id: number, update: RobotUpdate): Promise<Robot>;
  setRobotSecret(id: number, secretHash: string): Promise<void>;
  deleteRobot(id: number): Promise<void>;

  // Audit log.
  appendAudit(event: AuditEvent): Promise<AuditEntry>;
  /**
   * Append several entries in one statement (all or none), in order; returns how many. For
   * writers that buffer frequent events such as pulls.
   */
  appendAuditBatch(events: AuditEvent[]): Promise<number>;
  /** Newest first. */
  queryAudit(filter: AuditFilter, page: OffsetPage): Promise<Paged<AuditEntry>>;
  /** Delete entries older than `before`; returns how many. */
  purgeAudit(before: Date): Promise<number>;
}
