/**
 * The JSON shapes of /api/v2.0, as TypeBox schemas: one source for request validation, the
 * OpenAPI document (operations.ts) and the tests' response validation. Field names and
 * meanings follow Harbor's v2.0 API, so Harbor scripts read them unchanged.
 */
import { FormatRegistry, Type, type TSchema } from '@sinclair/typebox';

// TypeBox checks no format until told how (its registry is process-wide; setting it twice is harmless).
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/;
if (!FormatRegistry.Has('date-time')) FormatRegistry.Set('date-time', (value) => RFC3339.test(value) && !Number.isNaN(Date.parse(value)));

const DateTime = Type.String({ format: 'date-time' });
const Id = Type.Integer({ minimum: 0 });

export const ErrorBody = Type.Object(
  { errors: Type.Array(Type.Object({ code: Type.String(), message: Type.String() })) },
  { description: "Harbor's error shape" },
);

export const ProjectMetadata = Type.Record(Type.String(), Type.String(), {
  description: 'Harbor project metadata; "public" is "true" or "false"',
});

export const Project = Type.Object({
  project_id: Id,
  name: Type.String(),
  owner_id: Type.Union([Id, Type.Null()]),
  owner_name: Type.Union([Type.String(), Type.Null()]),
  repo_count: Type.Integer(),
  creation_time: DateTime,
  update_time: DateTime,
  deleted: Type.Boolean(),
  metadata: ProjectMetadata,
  storage_limit: Type.Integer(),
  current_user_role_id: Type.Integer({ description: '0 when the caller is not a member' }),
  current_user_role_ids: Type.Array(Type.Integer()),
});

export const ProjectReq = Type.Object({
  project_name: Type.String({ minLength: 1, maxLength: 255 }),
  public: Type.Optional(Type.Boolean({ description: 'deprecated by Harbor; metadata.public wins' })),
  metadata: Type.Optional(ProjectMetadata),
  storage_limit: Type.Optional(Type.Integer({ minimum: -1 })),
});

export const ProjectUpdateReq = Type.Object({
  metadata: Type.Optional(ProjectMetadata),
  storage_limit: Type.Optional(Type.Integer({ minimum: -1 })),
});

export const Repository = Type.Object({
  id: Type.Integer(),
  project_id: Id,
  name: Type.String({ description: 'full name, <project>/<repository>' }),
  artifact_count: Type.Integer(),
  pull_count: Type.Integer(),
  creation_time: DateTime,
  update_time: DateTime,
  description: Type.String(),
});

export const Tag = Type.Object({
  id: Type.Integer(),
  repository_id: Type.Integer(),
  artifact_id: Type.Integer(),
  name: Type.String(),
  push_time: DateTime,
  pull_time: Type.Union([DateTime, Type.Null()]),
  immutable: Type.Boolean(),
});

export const Artifact = Type.Object({
  id: Type.Integer(),
  type: Type.String({ description: 'IMAGE, INDEX or the artifact type' }),
  media_type: Type.String(),
  manifest_media_type: Type.String(),
  artifact_type: Type.Optional(Type.String()),
  project_id: Id,
  repository_name: Type.String(),
  digest: Type.String(),
  size: Type.Integer(),
  push_time: DateTime,
  pull_time: Type.Union([DateTime, Type.Null()]),
  annotations: Type.Record(Type.String(), Type.String()),
  references: Type.Array(Type.Object({ child_digest: Type.String() })),
  subject: Type.Optional(Type.String()),
  tags: Type.Array(Tag),
});

export const TagReq = Type.Object({ name: Type.String({ minLength: 1, maxLength: 128 }) });

export const Member = Type.Object({
  id: Id,
  project_id: Id,
  entity_name: Type.String(),
  entity_type: Type.Literal('u'),
  entity_id: Id,
  role_id: Type.Integer(),
  role_name: Type.String(),
});

export const MemberReq = Type.Object({
  role_id: Type.Integer(),
  member_user: Type.Object({ user_id: Type.Optional(Id), username: Type.Optional(Type.String()) }),
});

export const RoleReq = Type.Object({ role_id: Type.Integer() });

export const RobotAccess = Type.Object({
  resource: Type.String(),
  action: Type.String(),
  effect: Type.Optional(Type.Union([Type.Literal('allow'), Type.Literal('deny')])),
});

export const RobotPermission = Type.Object({
  kind: Type.Union([Type.Literal('project'), Type.Literal('system')]),
  namespace: Type.String(),
  access: Type.Array(RobotAccess),
});

export const Robot = Type.Object({
  id: Id,
  name: Type.String(),
  description: Type.String(),
  level: Type.Union([Type.Literal('system'), Type.Literal('project')]),
  duration: Type.Integer(),
  disable: Type.Boolean(),
  editable: Type.Boolean(),
  expires_at: Type.Integer({ description: 'Unix seconds; -1 = never' }),
  permissions: Type.Array(RobotPermission),
  creation_time: DateTime,
  update_time: DateTime,
});

export const RobotCreateReq = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 255, description: 'without the robot$ prefix' }),
  description: Type.Optional(Type.String({ maxLength: 1024 })),
  level: Type.Union([Type.Literal('system'), Type.Literal('project')]),
  duration: Type.Optional(Type.Integer({ description: 'days; -1 = never (default)' })),
  disable: Type.Optional(Type.Boolean()),
  permissions: Type.Array(RobotPermission),
});

export const RobotCreated = Type.Object({
  id: Id,
  name: Type.String(),
  secret: Type.String({ description: 'shown once; only a hash is stored' }),
  creation_time: DateTime,
  expires_at: Type.Integer(),
});

export const RobotUpdateReq = Type.Object({
  description: Type.Optional(Type.String({ maxLength: 1024 })),
  duration: Type.Optional(Type.Integer()),
  disable: Type.Optional(Type.Boolean()),
  permissions: Type.Optional(Type.Array(RobotPermission)),
});

export const RobotSecretReq = Type.Object({
  secret: Type.Optional(Type.String({ description: 'empty or absent: generate a new secret' })),
});

export const RobotSecret = Type.Object({ secret: Type.String() });

export const User = Type.Object({
  user_id: Id,
  username: Type.String(),
  email: Type.String(),
  realname: Type.String(),
  comment: Type.String(),
  sysadmin_flag: Type.Boolean(),
  admin_role_in_auth: Type.Boolean(),
  creation_time: DateTime,
  update_time: DateTime,
});

export const UserCreateReq = Type.Object({
  username: Type.String({ minLength: 1, maxLength: 255 }),
  password: Type.String({ minLength: 1, maxLength: 128 }),
  email: Type.Optional(Type.String({ maxLength: 255 })),
  realname: Type.Optional(Type.String({ maxLength: 255 })),
  comment: Type.Optional(Type.String({ maxLength: 1024 })),
});

export const UserUpdateReq = Type.Object({
  email: Type.Optional(Type.String({ maxLength: 255 })),
  realname: Type.Optional(Type.String({ maxLength: 255 })),
  comment: Type.Optional(Type.String({ maxLength: 1024 })),
});

export const PasswordReq = Type.Object({
  old_password: Type.Optional(Type.String()),
  new_password: Type.String({ minLength: 1, maxLength: 128 }),
});

export const SysadminReq = Type.Object({ sysadmin_flag: Type.Boolean() });

export const AuditLog = Type.Object({
  id: Id,
  username: Type.String(),
  resource: Type.String(),
  resource_type: Type.String(),
  operation: Type.String(),
  op_time: DateTime,
  outcome: Type.Union([Type.Literal('success'), Type.Literal('failure')]),
  project: Type.Union([Type.String(), Type.Null()]),
});

export const SystemInfo = Type.Object({
  harbor_version: Type.String(),
  auth_mode: Type.String(),
  external_url: Type.String(),
  registry_url: Type.String(),
  project_creation_restriction: Type.String(),
  self_registration: Type.Boolean(),
  has_ca_root: Type.Boolean(),
  read_only: Type.Boolean(),
});

export const Health = Type.Object({
  status: Type.Union([Type.Literal('healthy'), Type.Literal('unhealthy')]),
  components: Type.Array(
    Type.Object({
      name: Type.String(),
      status: Type.Union([Type.Literal('healthy'), Type.Literal('unhealthy')]),
      error: Type.Optional(Type.String()),
    }),
  ),
});

export const OpenApiDocument = Type.Object({ openapi: Type.String(), info: Type.Object({}), paths: Type.Object({}) });

export const PongText = Type.String({ description: 'text/plain "Pong"' });

export type Schema = TSchema;
