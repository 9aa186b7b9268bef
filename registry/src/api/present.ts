/**
 * Domain records → Harbor's JSON shapes (schemas.ts). Berth names repositories and artifacts
 * by name and digest, not by integer ids: the `id` fields Harbor carries for them are 0.
 */
import { PROJECT_ROLE_IDS, type ProjectContext } from '../auth/permissions.ts';
import type { AuditEntry, Project, ProjectMember, Robot, User } from '../metadata/access-store.ts';
import type { ArtifactSummary, RepositorySummary, TagSummary } from '../metadata/store.ts';
import { manifestKind } from '../oci/media-types.ts';

export function presentProject(project: Project, view: ProjectContext | undefined): Record<string, unknown> {
  const roleId = view?.role === undefined ? 0 : PROJECT_ROLE_IDS[view.role];
  return {
    project_id: project.id,
    name: project.name,
    owner_id: project.ownerId,
    owner_name: project.ownerName,
    repo_count: project.repositoryCount,
    creation_time: project.createdAt.toISOString(),
    update_time: project.updatedAt.toISOString(),
    deleted: false,
    metadata: { ...project.metadata, public: String(project.public) },
    storage_limit: project.storageLimit,
    current_user_role_id: roleId,
    current_user_role_ids: roleId === 0 ? [] : [roleId],
  };
}

export function presentRepository(repository: RepositorySummary, projectId: number): Record<string, unknown> {
  return {
    id: 0,
    project_id: projectId,
    name: repository.name,
    artifact_count: repository.artifactCount,
    pull_count: 0,
    creation_time: repository.createdAt.toISOString(),
    update_time: repository.updatedAt.toISOString(),
    description: '',
  };
}

export function presentTag(tag: TagSummary): Record<string, unknown> {
  return {
    id: 0,
    repository_id: 0,
    artifact_id: 0,
    name: tag.name,
    push_time: tag.pushedAt.toISOString(),
    pull_time: tag.pulledAt === null ? null : tag.pulledAt.toISOString(),
    immutable: false,
  };
}

export function presentArtifact(artifact: ArtifactSummary, projectId: number): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: 0,
    type: artifactTypeName(artifact),
    media_type: artifact.artifactType ?? artifact.mediaType,
    manifest_media_type: artifact.mediaType,
    project_id: projectId,
    repository_name: artifact.repository,
    digest: artifact.digest,
    size: artifact.size,
    push_time: artifact.pushedAt.toISOString(),
    pull_time: artifact.pulledAt === null ? null : artifact.pulledAt.toISOString(),
    annotations: artifact.annotations ?? {},
    references: artifact.children.map((child) => ({ child_digest: child })),
    tags: artifact.tags.map(presentTag),
  };
  if (artifact.artifactType !== undefined) out.artifact_type = artifact.artifactType;
  if (artifact.subject !== undefined) out.subject = artifact.subject;
  return out;
}

export function presentMember(member: ProjectMember): Record<string, unknown> {
  return {
    id: member.id,
    project_id: member.projectId,
    entity_name: member.userName,
    entity_type: 'u',
    entity_id: member.userId,
    role_id: PROJECT_ROLE_IDS[member.role],
    role_name: member.role,
  };
}

export function presentRobot(robot: Robot): Record<string, unknown> {
  return {
    id: robot.id,
    name: robot.name,
    description: robot.description,
    level: robot.level,
    duration: robot.durationDays,
    disable: robot.disabled,
    editable: true,
    expires_at: robot.expiresAt === null ? -1 : Math.floor(robot.expiresAt.getTime() / 1000),
    permissions: robot.permissions,
    creation_time: robot.createdAt.toISOString(),
    update_time: robot.updatedAt.toISOString(),
  };
}

export function presentUser(user: User): Record<string, unknown> {
  return {
    user_id: user.id,
    username: user.name,
    email: user.email ?? '',
    realname: user.realname,
    comment: user.comment,
    sysadmin_flag: user.sysadmin,
    admin_role_in_auth: false,
    creation_time: user.createdAt.toISOString(),
    update_time: user.updatedAt.toISOString(),
  };
}

export function presentAudit(entry: AuditEntry): Record<string, unknown> {
  return {
    id: entry.id,
    username: entry.principal,
    resource: entry.resource,
    resource_type: entry.resourceType,
    operation: entry.operation,
    op_time: entry.at.toISOString(),
    outcome: entry.outcome,
    project: entry.project,
  };
}

/** Harbor's artifact `type`: INDEX, IMAGE, or the artifact type of other OCI artifacts. */
function artifactTypeName(artifact: ArtifactSummary): string {
  if (manifestKind(artifact.mediaType) === 'index') return 'INDEX';
  if (artifact.artifactType === undefined || artifact.artifactType.includes('container.image')) return 'IMAGE';
  return artifact.artifactType;
}
