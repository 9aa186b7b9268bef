-- 0002: who may do what. Projects, users, project members, robot accounts, the audit log.
-- Harbor's model (see registry/src/auth/permissions.ts); the conventions of 0001 apply.
--
-- Projects are linked to repositories by name, not by a foreign key: a repository's project
-- is the generated column repositories.project (its first path component), joined to
-- projects.name (both text COLLATE "C", so the join uses the repositories_project index).
-- A key would make the data plane fail when auth is off (no project rows), and the auth
-- layer already refuses a push into a project that does not exist. Deleting a project
-- deletes its repositories in the same transaction (SqlAccessStore.deleteProject).

-- A person who logs in (Harbor's "db" auth mode; LDAP/OIDC users will be rows here too).
CREATE TABLE users (
  -- Harbor's user_id.
  id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- Login name. Never starts with "robot$": that prefix names robot accounts, and a login
  -- name must say unambiguously which table it is looked up in.
  name                text COLLATE "C" NOT NULL UNIQUE CHECK (name <> '' AND name NOT LIKE 'robot$%'),
  -- Optional; unique when set (case-insensitively, see users_email below).
  email               text,
  realname            text NOT NULL DEFAULT '',
  comment             text NOT NULL DEFAULT '',
  -- Adaptive hash (argon2id PHC string), never the password. NULL: no password login
  -- (reserved for users who will come from LDAP/OIDC).
  password_hash       text,
  -- System administrator: may do everything.
  sysadmin            boolean NOT NULL DEFAULT false,
  -- A disabled user cannot log in; rows are kept so audit entries and ownership stay readable.
  disabled            boolean NOT NULL DEFAULT false,
  -- Last password change: refresh tokens and sessions issued before it can be refused.
  password_changed_at timestamptz,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email ON users (lower(email)) WHERE email IS NOT NULL;

-- A project: the first path component of its repositories; the unit of access control and
-- (later) of quotas, retention and replication.
CREATE TABLE projects (
  -- Harbor's project_id.
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- Equal to repositories.project of its repositories, so it holds no '/'.
  name          text COLLATE "C" NOT NULL UNIQUE CHECK (name <> '' AND strpos(name, '/') = 0),
  -- Anyone, anonymous included, may pull from a public project.
  public        boolean NOT NULL DEFAULT false,
  -- Storage quota in bytes, deduplicated across the project's repositories; -1 = unlimited.
  storage_limit bigint NOT NULL DEFAULT -1 CHECK (storage_limit >= -1),
  -- The user who created it (Harbor's owner_id); NULL when created by the system or a robot,
  -- or when that user was deleted.
  owner_id      bigint REFERENCES users (id) ON DELETE SET NULL,
  -- Harbor's project metadata keys other than "public" (which is the column above), as
  -- strings the way Harbor's API carries them: auto_scan, prevent_vul, severity, ...
  metadata      jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(metadata) = 'object'),
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Harbor's default project: public, so `docker pull <host>/library/x` works anonymously.
INSERT INTO projects (name, public) VALUES ('library', true);

-- A user's role in a project (direct membership; LDAP/OIDC groups will get their own table).
CREATE TABLE project_members (
  -- Harbor's member id (/projects/{p}/members/{mid}).
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  project_id bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  -- The ProjectRole values of registry/src/auth/permissions.ts.
  role       text NOT NULL CHECK (role IN ('projectAdmin', 'maintainer', 'developer', 'guest', 'limitedGuest')),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  -- One membership per user and project; also the index of memberRole().
  UNIQUE (project_id, user_id)
);
-- A user's projects ("my projects", listings filtered to what a user may see).
CREATE INDEX project_members_user ON project_members (user_id);

-- A robot account: a non-human login with an explicit permission list.
CREATE TABLE robots (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- Full login name with the prefix: "robot$<name>" (system) or "robot$<project>+<name>".
  name          text COLLATE "C" NOT NULL UNIQUE CHECK (name LIKE 'robot$_%'),
  description   text NOT NULL DEFAULT '',
  -- "system": may hold permissions in several projects and system resources;
  -- "project": belongs to project_id and is deleted with it.
  level         text NOT NULL CHECK (level IN ('system', 'project')),
  project_id    bigint REFERENCES projects (id) ON DELETE CASCADE,
  -- Hash of the secret (registry/src/auth/secrets.ts); the secret is shown once, never stored.
  secret_hash   text NOT NULL,
  -- Harbor's shape: [{"kind","namespace","access":[{"resource","action","effect"}]}].
  permissions   jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(permissions) = 'array'),
  disabled      boolean NOT NULL DEFAULT false,
  -- Lifetime asked for at creation, in days (Harbor's "duration"); -1 = never expires.
  duration_days integer NOT NULL DEFAULT -1 CHECK (duration_days = -1 OR duration_days > 0),
  -- When the robot stops working; NULL = never.
  expires_at    timestamptz,
  -- Name of the principal that created it (a robot never holds more than its creator did).
  creator       text NOT NULL DEFAULT '',
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  CHECK ((level = 'project') = (project_id IS NOT NULL))
);
-- Robots of a project (listing; found by the cascade when the project is deleted).
CREATE INDEX robots_project ON robots (project_id) WHERE project_id IS NOT NULL;

-- Every authenticated operation and its outcome: who did what, when, from where.
-- Entries outlive what they name (no foreign keys), so history survives deletes; old
-- entries are removed by purge only.
CREATE TABLE audit_log (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at             timestamptz NOT NULL DEFAULT now(),
  -- Name of the user or robot; for a failed login, the name that was tried.
  principal      text COLLATE "C" NOT NULL,
  -- push, pull, delete, login, logout, create, update. Not a CHECK: new operations must not
  -- need a migration, and the AuditOperation type lists the known ones.
  operation      text NOT NULL,
  -- artifact, repository, tag, project, member, robot, user, ...
  resource_type  text NOT NULL,
  -- What was acted on: "library/nginx:latest", "library/nginx@sha256:...", a project, user
  -- or robot name.
  resource       text COLLATE "C" NOT NULL,
  -- The project the resource belongs to, if any (per-project logs, Harbor's /projects/{p}/logs).
  project        text COLLATE "C",
  outcome        text NOT NULL CHECK (outcome IN ('success', 'failure')),
  -- Client IP address as the server saw it (after trusted proxies).
  client_address text,
  -- Anything else worth keeping (user agent, error code, changed fields); never a secret.
  detail         jsonb
);
-- Newest first, and purges by age.
CREATE INDEX audit_log_at ON audit_log (at DESC, id DESC);
-- By resource, exact or by prefix (COLLATE "C" lets LIKE 'prefix%' use it).
CREATE INDEX audit_log_resource ON audit_log (resource);
-- What one principal did, newest first.
CREATE INDEX audit_log_principal ON audit_log (principal, at DESC);
-- One project's log, newest first.
CREATE INDEX audit_log_project ON audit_log (project, at DESC) WHERE project IS NOT NULL;
