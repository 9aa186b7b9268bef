/**
 * AccessStore over SQL, shared by PostgreSQL and PGlite. The schema is defined and
 * documented in ./migrations/0002_access.sql and applied by migrate().
 *
 * The schema is the validator of last resort: unique keys, foreign keys and CHECKs refuse bad
 * rows, and `databaseError` turns those refusals into the store's typed errors with a message
 * per constraint. The lookups the auth layer makes on every request (findUser, findRobot,
 * findProject, memberRole) are one indexed query each and stay prepared.
 */
import type { ProjectRecord, RobotRecord, UserRecord } from '../auth/identity.ts';
import { PROJECT_ROLES, type ProjectRole, type RobotPermission } from '../auth/permissions.ts';
import {
  ConflictError,
  InvalidInputError,
  NotFoundError,
  ProjectNotEmptyError,
  type AccessStore,
  type AuditEntry,
  type AuditEvent,
  type AuditFilter,
  type MemberFilter,
  type NewProject,
  type NewRobot,
  type NewUser,
  type Project,
  type ProjectFilter,
  type ProjectMember,
  type ProjectUpdate,
  type Robot,
  type RobotFilter,
  type RobotUpdate,
  type User,
  type UserFilter,
  type UserProject,
  type UserUpdate,
} from './access-store.ts';
import { likePrefix, paged, SqlConditions } from './sql-paging.ts';
import type { OffsetPage, Paged, SqlDatabase, SqlExecutor, SqlQueryOptions } from './store.ts';

const PREPARED: SqlQueryOptions = { prepare: true };

// --- Rows and their mapping to records ---

interface ProjectRow {
  id: number;
  name: string;
  public: boolean;
  storage_limit: number;
  owner_id: number | null;
  owner_name: string | null;
  metadata: Record<string, string>;
  repository_count: number;
  created_at: Date;
  updated_at: Date;
}

const PROJECT_SELECT = `
  SELECT p.id, p.name, p.public, p.storage_limit, p.owner_id, o.name AS owner_name, p.metadata,
         (SELECT count(*) FROM repositories r WHERE r.project = p.name) AS repository_count,
         p.created_at, p.updated_at`;
const PROJECT_FROM = ' FROM projects p LEFT JOIN users o ON o.id = p.owner_id';

function toProject(row: ProjectRow): Project {
  return {
    id: row.id,
    name: row.name,
    public: row.public,
    storageLimit: row.storage_limit,
    ownerId: row.owner_id,
    ownerName: row.owner_name,
    metadata: row.metadata,
    repositoryCount: row.repository_count,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

interface MemberRow {
  id: number;
  project_id: number;
  user_id: number;
  user_name: string;
  role: ProjectRole;
  created_at: Date;
  updated_at: Date;
}

const MEMBER_SELECT = 'SELECT m.id, m.project_id, m.user_id, u.name AS user_name, m.role, m.created_at, m.updated_at';
const MEMBER_FROM = ' FROM project_members m JOIN users u ON u.id = m.user_id';

function toMember(row: MemberRow): ProjectMember {
  return {
    id: row.id,
    projectId: row.project_id,
    userId: row.user_id,
    userName: row.user_name,
    role: row.role,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

interface UserRow {
  id: number;
  name: string;
  email: string | null;
  realname: string;
  comment: string;
  sysadmin: boolean;
  disabled: boolean;
  has_password: boolean;
  password_changed_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

const USER_COLUMNS = `id, name, email, realname, comment, sysadmin, disabled,
  password_hash IS NOT NULL AS has_password, password_changed_at, created_at, updated_at`;

function toUser(row: UserRow): User {
  return {
    id: row.id,
    name: row.name,
    email: row.email,
    realname: row.realname,
    comment: row.comment,
    sysadmin: row.sysadmin,
    disabled: row.disabled,
    hasPassword: row.has_password,
    passwordChangedAt: row.password_changed_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

interface RobotRow {
  id: number;
  name: string;
  description: string;
  level: 'system' | 'project';
  project_id: number | null;
  project_name: string | null;
  permissions: RobotPermission[];
  disabled: boolean;
  duration_days: number;
  expires_at: Date | null;
  creator: string;
  created_at: Date;
  updated_at: Date;
}

const ROBOT_SELECT = `
  SELECT r.id, r.name, r.description, r.level, r.project_id, p.name AS project_name, r.permissions,
         r.disabled, r.duration_days, r.expires_at, r.creator, r.created_at, r.updated_at`;
const ROBOT_FROM = ' FROM robots r LEFT JOIN projects p ON p.id = r.project_id';

function toRobot(row: RobotRow): Robot {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    level: row.level,
    projectId: row.project_id,
    projectName: row.project_name,
    permissions: row.permissions,
    disabled: row.disabled,
    durationDays: row.duration_days,
    expiresAt: row.expires_at,
    creator: row.creator,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

interface AuditRow {
  id: number;
  at: Date;
  principal: string;
  operation: string;
  resource_type: string;
  resource: string;
  project: string | null;
  outcome: 'success' | 'failure';
  client_address: string | null;
  detail: Record<string, unknown> | null;
}

const AUDIT_COLUMNS = 'id, at, principal, operation, resource_type, resource, project, outcome, client_address, detail';

function toAuditEntry(row: AuditRow): AuditEntry {
  return {
    id: row.id,
    at: row.at,
    principal: row.principal,
    operation: row.operation,
    resourceType: row.resource_type,
    resource: row.resource,
    project: row.project,
    outcome: row.outcome,
    clientAddress: row.client_address,
    detail: row.detail,
  };
}

// --- The store ---

export class SqlAccessStore implements AccessStore {
  readonly #db: SqlDatabase;

  constructor(db: SqlDatabase) {
    this.#db = db;
  }

  // --- IdentityStore and ProjectDirectory (every authenticated request) ---

  async findUser(name: string): Promise<UserRecord | undefined> {
    const rows = await this.#db.query<{ id: number; name: string; password_hash: string; sysadmin: boolean }>(
      `SELECT id, name, password_hash, sysadmin FROM users
        WHERE name = $1 AND NOT disabled AND password_hash IS NOT NULL`,
      [name],
      PREPARED,
    );
    const row = rows[0];
    return row && { id: String(row.id), name: row.name, passwordHash: row.password_hash, sysadmin: row.sysadmin };
  }

  async findRobot(name: string): Promise<RobotRecord | undefined> {
    const rows = await this.#db.query<{
      id: number;
      name: string;
      secret_hash: string;
      level: 'system' | 'project';
      permissions: RobotPermission[];
      disabled: boolean;
      expires_at: Date | null;
    }>('SELECT id, name, secret_hash, level, permissions, disabled, expires_at FROM robots WHERE name = $1', [name], PREPARED);
    const row = rows[0];
    return (
      row && {
        id: String(row.id),
        name: row.name,
        secretHash: row.secret_hash,
        level: row.level,
        permissions: row.permissions,
        disabled: row.disabled,
        expiresAt: row.expires_at,
      }
    );
  }

  async findProject(name: string): Promise<ProjectRecord | undefined> {
    const rows = await this.#db.query<ProjectRecord>('SELECT name, public FROM projects WHERE name = $1', [name], PREPARED);
    return rows[0];
  }

  async memberRole(project: string, userId: string): Promise<ProjectRole | undefined> {
    // Ids reach the auth layer as strings; anything else is no user of ours.
    const id = /^[1-9][0-9]*$/.test(userId) ? Number(userId) : NaN;
    if (!Number.isSafeInteger(id)) return undefined;
    const rows = await this.#db.query<{ role: ProjectRole }>(
      `SELECT m.role
         FROM projects p
         JOIN project_members m ON m.project_id = p.id AND m.user_id = $2
        WHERE p.name = $1`,
      [project, id],
      PREPARED,
    );
    return rows[0]?.role;
  }

  // --- Projects ---

  async createProject(project: NewProject): Promise<Project> {
    if (project.metadata !== undefined) checkMetadata(project.metadata);
    try {
      return await this.#db.transaction(async (tx) => {
        const [created] = await tx.query<{ id: number }>(
          `INSERT INTO projects (name, public, storage_limit, metadata, owner_id)
           VALUES ($1, $2, $3, $4::jsonb, $5) RETURNING id`,
          [
            project.name,
            project.public ?? false,
            project.storageLimit ?? -1,
            JSON.stringify(project.metadata ?? {}),
            project.ownerId ?? null,
          ],
        );
        // Harbor makes the creator the project's admin.
        if (project.ownerId !== undefined) {
          await tx.query(`INSERT INTO project_members (project_id, user_id, role) VALUES ($1, $2, 'projectAdmin')`, [
            created!.id,
            project.ownerId,
          ]);
        }
        return (await selectProject(tx, 'p.id = $1', created!.id))!;
      });
    } catch (err) {
      throw databaseError(err, { project: project.name, user: project.ownerId });
    }
  }

  async getProject(id: number): Promise<Project | undefined> {
    return selectProject(this.#db, 'p.id = $1', id);
  }

  async getProjectByName(name: string): Promise<Project | undefined> {
    return selectProject(this.#db, 'p.name = $1', name);
  }

  async listProjects(filter: ProjectFilter, page: OffsetPage): Promise<Paged<Project>> {
    const where = new SqlConditions();
    if (filter.name !== undefined) where.add(`strpos(p.name, ${where.param(filter.name)}) > 0`);
    if (filter.public !== undefined) where.add(`p.public = ${where.param(filter.public)}`);
    if (filter.memberUserId !== undefined) {
      where.add(`EXISTS (SELECT 1 FROM project_members m WHERE m.project_id = p.id AND m.user_id = ${where.param(filter.memberUserId)})`);
    }
    if (filter.visibleToUserId !== undefined) {
      where.add(
        `(p.public OR EXISTS (SELECT 1 FROM project_members m
                               WHERE m.project_id = p.id AND m.user_id = ${where.param(filter.visibleToUserId)}))`,
      );
    }
    return paged(this.#db, PROJECT_SELECT, PROJECT_FROM, where, 'p.name', page, toProject);
  }

  async updateProject(id: number, update: ProjectUpdate): Promise<Project> {
    const set = new SqlConditions();
    if (update.public !== undefined) set.add(`public = ${set.param(update.public)}`);
    if (update.storageLimit !== undefined) set.add(`storage_limit = ${set.param(update.storageLimit)}`);
    if (update.metadata !== undefined) {
      const added: Record<string, string> = {};
      const removed: string[] = [];
      for (const [key, value] of Object.entries(update.metadata)) {
        if (value === null) removed.push(key);
        else added[key] = value;
      }
      checkMetadata(added);
      set.add(`metadata = (metadata || ${set.param(JSON.stringify(added))}::jsonb) - ${set.param(removed)}::text[]`);
    }
    try {
      return await this.#db.transaction(async (tx) => {
        await updateById(tx, 'projects', id, set, `project ${id} not found`);
        return (await selectProject(tx, 'p.id = $1', id))!;
      });
    } catch (err) {
      throw databaseError(err, {});
    }
  }

  async deleteProject(id: number, options: { force?: boolean } = {}): Promise<void> {
    await this.#db.transaction(async (tx) => {
      // Locked, so a concurrent update or delete of the project waits for this one.
      const [project] = await tx.query<{ name: string }>('SELECT name FROM projects WHERE id = $1 FOR UPDATE', [id]);
      if (!project) throw new NotFoundError(`project ${id} not found`);
      const [{ count } = { count: 0 }] = await tx.query<{ count: number }>(
        'SELECT count(*) AS count FROM repositories WHERE project = $1',
        [project.name],
      );
      if (count > 0 && !options.force) throw new ProjectNotEmptyError(project.name, count);
      // Manifests, tags, references and blob links go with their repositories (cascade);
      // blob rows stay for garbage collection.
      if (count > 0) await tx.query('DELETE FROM repositories WHERE project = $1', [project.name]);
      // A later project of the same name must not inherit grants made for this one.
      await tx.query(
        `UPDATE robots
            SET permissions = (SELECT coalesce(jsonb_agg(e.permission ORDER BY e.position), '[]'::jsonb)
                                 FROM jsonb_array_elements(permissions) WITH ORDINALITY AS e(permission, position)
                                WHERE NOT (e.permission->>'kind' = 'project' AND e.permission->>'namespace' = $1)),
                updated_at = now()
          WHERE permissions @> jsonb_build_array(jsonb_build_object('kind', 'project', 'namespace', $1::text))`,
        [project.name],
      );
      // Members and project robots go with the project (cascade).
      await tx.query('DELETE FROM projects WHERE id = $1', [id]);
    });
  }

  async repositoryCounts(projectNames: string[]): Promise<Map<string, number>> {
    const counts = new Map(projectNames.map((name) => [name, 0]));
    if (projectNames.length === 0) return counts;
    const rows = await this.#db.query<{ project: string; count: number }>(
      'SELECT project, count(*) AS count FROM repositories WHERE project = ANY($1::text[]) GROUP BY project',
      [projectNames],
    );
    for (const row of rows) counts.set(row.project, row.count);
    return counts;
  }

  // --- Members ---

  async addMember(projectId: number, userId: number, role: ProjectRole): Promise<ProjectMember> {
    checkRole(role);
    try {
      return await this.#db.transaction(async (tx) => {
        const [added] = await tx.query<{ id: number }>(
          'INSERT INTO project_members (project_id, user_id, role) VALUES ($1, $2, $3) RETURNING id',
          [projectId, userId, role],
        );
        return (await selectMember(tx, projectId, added!.id))!;
      });
    } catch (err) {
      throw databaseError(err, { project: projectId, user: userId });
    }
  }

  async getMember(projectId: number, memberId: number): Promise<ProjectMember | undefined> {
    return selectMember(this.#db, projectId, memberId);
  }

  async listMembers(projectId: number, filter: MemberFilter, page: OffsetPage): Promise<Paged<ProjectMember>> {
    const where = new SqlConditions();
    where.add(`m.project_id = ${where.param(projectId)}`);
    if (filter.userName !== undefined) where.add(`strpos(lower(u.name), lower(${where.param(filter.userName)})) > 0`);
    return paged(this.#db, MEMBER_SELECT, MEMBER_FROM, where, 'u.name', page, toMember);
  }

  async updateMemberRole(projectId: number, memberId: number, role: ProjectRole): Promise<ProjectMember> {
    checkRole(role);
    return this.#db.transaction(async (tx) => {
      const updated = await tx.query(
        'UPDATE project_members SET role = $3, updated_at = now() WHERE project_id = $1 AND id = $2 RETURNING id',
        [projectId, memberId, role],
      );
      if (updated.length === 0) throw new NotFoundError(`member ${memberId} of project ${projectId} not found`);
      return (await selectMember(tx, projectId, memberId))!;
    });
  }

  async removeMember(projectId: number, memberId: number): Promise<void> {
    const deleted = await this.#db.query('DELETE FROM project_members WHERE project_id = $1 AND id = $2 RETURNING id', [
      projectId,
      memberId,
    ]);
    if (deleted.length === 0) throw new NotFoundError(`member ${memberId} of project ${projectId} not found`);
  }

  async userProjects(userId: number): Promise<UserProject[]> {
    const rows = await this.#db.query<{ project_id: number; project_name: string; public: boolean; role: ProjectRole }>(
      `SELECT p.id AS project_id, p.name AS project_name, p.public, m.role
         FROM project_members m JOIN projects p ON p.id = m.project_id
        WHERE m.user_id = $1
        ORDER BY p.name`,
      [userId],
    );
    return rows.map((row) => ({ projectId: row.project_id, projectName: row.project_name, public: row.public, role: row.role }));
  }

  // --- Users ---

  async createUser(user: NewUser): Promise<User> {
    try {
      const rows = await this.#db.query<UserRow>(
        `INSERT INTO users (name, email, realname, comment, password_hash, sysadmin, password_changed_at)
         VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $5::text IS NULL THEN NULL ELSE now() END)
         RETURNING ${USER_COLUMNS}`,
        [user.name, user.email ?? null, user.realname ?? '', user.comment ?? '', user.passwordHash, user.sysadmin ?? false],
      );
      return toUser(rows[0]!);
    } catch (err) {
      throw databaseError(err, { user: user.name });
    }
  }

  async getUser(id: number): Promise<User | undefined> {
    const rows = await this.#db.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE id = $1`, [id]);
    return rows[0] && toUser(rows[0]);
  }

  async getUserByName(name: string): Promise<User | undefined> {
    const rows = await this.#db.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE name = $1`, [name]);
    return rows[0] && toUser(rows[0]);
  }

  async listUsers(filter: UserFilter, page: OffsetPage): Promise<Paged<User>> {
    const where = new SqlConditions();
    if (filter.name !== undefined) where.add(`strpos(lower(name), lower(${where.param(filter.name)})) > 0`);
    if (filter.email !== undefined) where.add(`strpos(lower(email), lower(${where.param(filter.email)})) > 0`);
    return paged(this.#db, `SELECT ${USER_COLUMNS}`, ' FROM users', where, 'name', page, toUser);
  }

  async updateUser(id: number, update: UserUpdate): Promise<User> {
    const set = new SqlConditions();
    if (update.email !== undefined) set.add(`email = ${set.param(update.email)}`);
    if (update.realname !== undefined) set.add(`realname = ${set.param(update.realname)}`);
    if (update.comment !== undefined) set.add(`comment = ${set.param(update.comment)}`);
    if (update.sysadmin !== undefined) set.add(`sysadmin = ${set.param(update.sysadmin)}`);
    if (update.disabled !== undefined) set.add(`disabled = ${set.param(update.disabled)}`);
    try {
      return await this.#db.transaction(async (tx) => {
        await updateById(tx, 'users', id, set, `user ${id} not found`);
        const rows = await tx.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE id = $1`, [id]);
        return toUser(rows[0]!);
      });
    } catch (err) {
      throw databaseError(err, { user: id });
    }
  }

  async setUserPassword(id: number, passwordHash: string): Promise<void> {
    const rows = await this.#db.query(
      'UPDATE users SET password_hash = $2, password_changed_at = now(), updated_at = now() WHERE id = $1 RETURNING id',
      [id, passwordHash],
    );
    if (rows.length === 0) throw new NotFoundError(`user ${id} not found`);
  }

  async deleteUser(id: number): Promise<void> {
    const rows = await this.#db.query('DELETE FROM users WHERE id = $1 RETURNING id', [id]);
    if (rows.length === 0) throw new NotFoundError(`user ${id} not found`);
  }

  async countAdmins(): Promise<number> {
    const rows = await this.#db.query<{ count: number }>('SELECT count(*) AS count FROM users WHERE sysadmin AND NOT disabled');
    return rows[0]!.count;
  }

  // --- Robots ---

  async createRobot(robot: NewRobot): Promise<Robot> {
    checkPermissions(robot.permissions);
    try {
      return await this.#db.transaction(async (tx) => {
        const [created] = await tx.query<{ id: number }>(
          `INSERT INTO robots
             (name, description, level, project_id, secret_hash, permissions, disabled, duration_days, expires_at, creator)
           VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10)
           RETURNING id`,
          [
            robot.name,
            robot.description ?? '',
            robot.level,
            robot.projectId ?? null,
            robot.secretHash,
            JSON.stringify(robot.permissions),
            robot.disabled ?? false,
            robot.durationDays ?? -1,
            robot.expiresAt,
            robot.creator,
          ],
        );
        return checkRobotScope((await selectRobot(tx, 'r.id = $1', created!.id))!);
      });
    } catch (err) {
      throw databaseError(err, { robot: robot.name, project: robot.projectId });
    }
  }

  async getRobot(id: number): Promise<Robot | undefined> {
    return selectRobot(this.#db, 'r.id = $1', id);
  }

  async getRobotByName(name: string): Promise<Robot | undefined> {
    return selectRobot(this.#db, 'r.name = $1', name);
  }

  async listRobots(filter: RobotFilter, page: OffsetPage): Promise<Paged<Robot>> {
    const where = new SqlConditions();
    if (filter.level !== undefined) where.add(`r.level = ${where.param(filter.level)}`);
    if (filter.projectId !== undefined) where.add(`r.project_id = ${where.param(filter.projectId)}`);
    if (filter.name !== undefined) where.add(`strpos(r.name, ${where.param(filter.name)}) > 0`);
    return paged(this.#db, ROBOT_SELECT, ROBOT_FROM, where, 'r.name', page, toRobot);
  }

  async updateRobot(id: number, update: RobotUpdate): Promise<Robot> {
    const set = new SqlConditions();
    if (update.description !== undefined) set.add(`description = ${set.param(update.description)}`);
    if (update.permissions !== undefined) {
      checkPermissions(update.permissions);
      set.add(`permissions = ${set.param(JSON.stringify(update.permissions))}::jsonb`);
    }
    if (update.disabled !== undefined) set.add(`disabled = ${set.param(update.disabled)}`);
    if (update.durationDays !== undefined) set.add(`duration_days = ${set.param(update.durationDays)}`);
    if (update.expiresAt !== undefined) set.add(`expires_at = ${set.param(update.expiresAt)}`);
    try {
      return await this.#db.transaction(async (tx) => {
        await updateById(tx, 'robots', id, set, `robot ${id} not found`);
        return checkRobotScope((await selectRobot(tx, 'r.id = $1', id))!);
      });
    } catch (err) {
      throw databaseError(err, {});
    }
  }

  async setRobotSecret(id: number, secretHash: string): Promise<void> {
    const rows = await this.#db.query('UPDATE robots SET secret_hash = $2, updated_at = now() WHERE id = $1 RETURNING id', [
      id,
      secretHash,
    ]);
    if (rows.length === 0) throw new NotFoundError(`robot ${id} not found`);
  }

  async deleteRobot(id: number): Promise<void> {
    const rows = await this.#db.query('DELETE FROM robots WHERE id = $1 RETURNING id', [id]);
    if (rows.length === 0) throw new NotFoundError(`robot ${id} not found`);
  }

  // --- Audit log ---

  async appendAudit(event: AuditEvent): Promise<AuditEntry> {
    try {
      const rows = await this.#db.query<AuditRow>(
        `INSERT INTO audit_log (at, principal, operation, resource_type, resource, project, outcome, client_address, detail)
         VALUES (coalesce($1::timestamptz, now()), $2, $3, $4, $5, $6, $7, $8, $9::jsonb)
         RETURNING ${AUDIT_COLUMNS}`,
        [
          event.at ?? null,
          event.principal,
          event.operation,
          event.resourceType,
          event.resource,
          event.project ?? null,
          event.outcome,
          event.clientAddress ?? null,
          event.detail === undefined ? null : JSON.stringify(event.detail),
        ],
        PREPARED,
      );
      return toAuditEntry(rows[0]!);
    } catch (err) {
      throw databaseError(err, {});
    }
  }

  async appendAuditBatch(events: AuditEvent[]): Promise<number> {
    if (events.length === 0) return 0;
    const records = events.map((event) => ({
      at: event.at?.toISOString() ?? null,
      principal: event.principal,
      operation: event.operation,
      resource_type: event.resourceType,
      resource: event.resource,
      project: event.project ?? null,
      outcome: event.outcome,
      client_address: event.clientAddress ?? null,
      detail: event.detail ?? null,
    }));
    try {
      // One statement for the whole batch; ids follow the order of `events`.
      const rows = await this.#db.query<{ count: number }>(
        `WITH inserted AS (
           INSERT INTO audit_log (at, principal, operation, resource_type, resource, project, outcome, client_address, detail)
           SELECT coalesce(e.at, now()), e.principal, e.operation, e.resource_type, e.resource, e.project, e.outcome,
                  e.client_address, e.detail
             FROM ROWS FROM (jsonb_to_recordset($1::jsonb)
                    AS (at timestamptz, principal text, operation text, resource_type text, resource text, project text,
                        outcome text, client_address text, detail jsonb))
                  WITH ORDINALITY
                  AS e(at, principal, operation, resource_type, resource, project, outcome, client_address, detail, position)
            ORDER BY e.position
           RETURNING 1)
         SELECT count(*) AS count FROM inserted`,
        [JSON.stringify(records)],
      );
      return rows[0]!.count;
    } catch (err) {
      throw databaseError(err, {});
    }
  }

  async queryAudit(filter: AuditFilter, page: OffsetPage): Promise<Paged<AuditEntry>> {
    const where = new SqlConditions();
    if (filter.from !== undefined) where.add(`at >= ${where.param(filter.from)}`);
    if (filter.to !== undefined) where.add(`at < ${where.param(filter.to)}`);
    if (filter.principal !== undefined) where.add(`principal = ${where.param(filter.principal)}`);
    if (filter.operation !== undefined) where.add(`operation = ${where.param(filter.operation)}`);
    if (filter.resourceType !== undefined) where.add(`resource_type = ${where.param(filter.resourceType)}`);
    if (filter.resource !== undefined) where.add(`resource = ${where.param(filter.resource)}`);
    if (filter.resourcePrefix !== undefined) where.add(`resource LIKE ${where.param(likePrefix(filter.resourcePrefix))}`);
    if (filter.project !== undefined) where.add(`project = ${where.param(filter.project)}`);
    if (filter.outcome !== undefined) where.add(`outcome = ${where.param(filter.outcome)}`);
    return paged(this.#db, `SELECT ${AUDIT_COLUMNS}`, ' FROM audit_log', where, 'at DESC, id DESC', page, toAuditEntry);
  }

  async purgeAudit(before: Date): Promise<number> {
    const rows = await this.#db.query<{ count: number }>(
      'WITH purged AS (DELETE FROM audit_log WHERE at < $1 RETURNING 1) SELECT count(*) AS count FROM purged',
      [before],
    );
    return rows[0]!.count;
  }
}

// --- Queries shared by several methods ---

async function selectProject(db: SqlExecutor, condition: string, value: unknown): Promise<Project | undefined> {
  const rows = await db.query<ProjectRow>(`${PROJECT_SELECT}${PROJECT_FROM} WHERE ${condition}`, [value]);
  return rows[0] && toProject(rows[0]);
}

async function selectMember(db: SqlExecutor, projectId: number, memberId: number): Promise<ProjectMember | undefined> {
  const rows = await db.query<MemberRow>(`${MEMBER_SELECT}${MEMBER_FROM} WHERE m.project_id = $1 AND m.id = $2`, [
    projectId,
    memberId,
  ]);
  return rows[0] && toMember(rows[0]);
}

async function selectRobot(db: SqlExecutor, condition: string, value: unknown): Promise<Robot | undefined> {
  const rows = await db.query<RobotRow>(`${ROBOT_SELECT}${ROBOT_FROM} WHERE ${condition}`, [value]);
  return rows[0] && toRobot(rows[0]);
}

/** `UPDATE <table> SET <assignments>, updated_at = now() WHERE id = ...`, or NotFoundError. */
async function updateById(tx: SqlExecutor, table: string, id: number, set: SqlConditions, notFound: string): Promise<void> {
  const assignments = [...set.parts, 'updated_at = now()'].join(', ');
  const rows = await tx.query(`UPDATE ${table} SET ${assignments} WHERE id = ${set.param(id)} RETURNING id`, set.params);
  if (rows.length === 0) throw new NotFoundError(notFound);
}

// --- Input checks the schema cannot word well ---

function checkRole(role: string): void {
  if (!(PROJECT_ROLES as readonly string[]).includes(role)) {
    throw new InvalidInputError(`unknown role ${JSON.stringify(role)}; one of ${PROJECT_ROLES.join(', ')}`);
  }
}

function checkMetadata(metadata: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string') throw new InvalidInputError(`project metadata ${key} must be a string`);
  }
}

/** The permission checks trust what they read back, so only Harbor's shape goes in. */
function checkPermissions(permissions: unknown): void {
  if (!Array.isArray(permissions)) refusePermissions('must be a list');
  for (const permission of permissions as unknown[]) {
    if (typeof permission !== 'object' || permission === null) refusePermissions('each entry must be an object');
    const { kind, namespace, access } = permission as Partial<Record<keyof RobotPermission, unknown>>;
    if (kind !== 'project' && kind !== 'system') refusePermissions('kind must be "project" or "system"');
    if (typeof namespace !== 'string' || namespace === '') refusePermissions('namespace must be a non-empty string');
    if (!Array.isArray(access)) refusePermissions('access must be a list');
    for (const entry of access as unknown[]) {
      if (typeof entry !== 'object' || entry === null) refusePermissions('each access must be an object');
      const { resource, action, effect } = entry as Record<string, unknown>;
      if (typeof resource !== 'string' || typeof action !== 'string') refusePermissions('resource and action must be strings');
      if (effect !== undefined && effect !== 'allow' && effect !== 'deny') refusePermissions('effect must be "allow" or "deny"');
    }
  }
}

/**
 * Harbor's scoping, checked on the stored row inside the writing transaction (a throw rolls it
 * back): a project robot acts only in its own project; "system" permissions (namespace "/")
 * belong to system robots.
 */
function checkRobotScope(robot: Robot): Robot {
  for (const permission of robot.permissions) {
    if (robot.level === 'project') {
      if (permission.kind !== 'project' || permission.namespace !== robot.projectName) {
        refusePermissions(`a project robot of ${robot.projectName} may only hold permissions of kind "project" in namespace ${robot.projectName}`);
      }
    } else if (permission.kind === 'system' && permission.namespace !== '/') {
      refusePermissions('system permissions use namespace "/"');
    }
  }
  return robot;
}

function refusePermissions(what: string): never {
  throw new InvalidInputError(`robot permissions: ${what}`);
}

// --- Database refusals as typed errors ---

interface ErrorSubjects {
  project?: string | number | undefined;
  user?: string | number | undefined;
  robot?: string | undefined;
}

/** Messages for the constraints of 0002_access.sql, by constraint name. */
function constraintMessage(constraint: string, subjects: ErrorSubjects): AccessStoreRefusal | undefined {
  switch (constraint) {
    case 'projects_name_key':
      return new ConflictError(`project ${subjects.project} already exists`);
    case 'projects_name_check':
      return new InvalidInputError("a project name must be non-empty and contain no '/'");
    case 'projects_storage_limit_check':
      return new InvalidInputError('storage limit must be -1 (unlimited) or a number of bytes');
    case 'projects_owner_id_fkey':
    case 'project_members_user_id_fkey':
      return new NotFoundError(`user ${subjects.user} not found`);
    case 'project_members_project_id_fkey':
    case 'robots_project_id_fkey':
      return new NotFoundError(`project ${subjects.project} not found`);
    case 'project_members_project_id_user_id_key':
      return new ConflictError(`user ${subjects.user} is already a member of project ${subjects.project}`);
    case 'users_name_key':
      return new ConflictError(`user name ${subjects.user} is already taken`);
    case 'users_email':
      return new ConflictError('email is already taken');
    case 'users_name_check':
      return new InvalidInputError('a user name must be non-empty and must not start with "robot$"');
    case 'robots_name_key':
      return new ConflictError(`robot ${subjects.robot} already exists`);
    case 'robots_name_check':
      return new InvalidInputError('a robot name must start with "robot$"');
    case 'robots_level_check':
      return new InvalidInputError('robot level must be "system" or "project"');
    case 'robots_check':
      return new InvalidInputError('a project robot belongs to a project; a system robot to none');
    case 'robots_duration_days_check':
      return new InvalidInputError('robot duration must be -1 (never expires) or a positive number of days');
    case 'audit_log_outcome_check':
      return new InvalidInputError('audit outcome must be "success" or "failure"');
    default:
      return undefined;
  }
}

type AccessStoreRefusal = ConflictError | NotFoundError | InvalidInputError;

/** Typed errors for constraint violations; anything else (connection loss, bugs) unchanged. */
function databaseError(err: unknown, subjects: ErrorSubjects): unknown {
  if (err instanceof ConflictError || err instanceof NotFoundError || err instanceof InvalidInputError) return err;
  const { code, constraint } = (err ?? {}) as { code?: unknown; constraint?: unknown };
  if (typeof code !== 'string') return err;
  const known = typeof constraint === 'string' ? constraintMessage(constraint, subjects) : undefined;
  if (known) return known;
  switch (code) {
    case '23505': // unique_violation
      return new ConflictError('already exists');
    case '23503': // foreign_key_violation
      return new NotFoundError('a referenced record does not exist');
    case '23514': // check_violation
    case '23502': // not_null_violation
    case '22P02': // invalid_text_representation
    case '22003': // numeric_value_out_of_range
    case '22007': // invalid_datetime_format
    case '22008': // datetime_field_overflow
      return new InvalidInputError('invalid value' + (typeof constraint === 'string' ? ` (${constraint})` : ''));
    default:
      return err;
  }
}
