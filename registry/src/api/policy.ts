/**
 * Permission checks of /api, all through the auth layer's permission model (canInProject,
 * canInSystem): anonymous callers who may not act get 401, authenticated ones 403; a
 * project that does not exist is 404.
 */
import { projectContext } from '../auth/grant.ts';
import { canInProject, canInSystem, type Action, type ProjectContext, type ProjectResource, type SystemResource } from '../auth/permissions.ts';
import type { Project } from '../metadata/access-store.ts';
import type { ApiContext, ApiRequest } from './context.ts';
import { ApiError } from './errors.ts';

export function refuse(request: ApiRequest, what: string): ApiError {
  return request.caller.principal.kind === 'anonymous'
    ? new ApiError('UNAUTHORIZED', 'authentication required')
    : new ApiError('FORBIDDEN', `not allowed to ${what}`);
}

export function requireAuthenticated(request: ApiRequest): void {
  if (request.caller.principal.kind === 'anonymous') throw new ApiError('UNAUTHORIZED', 'authentication required');
}

export function requireSystem(request: ApiRequest, context: ApiContext, resource: SystemResource, action: Action): void {
  if (!canInSystem(request.caller.principal, resource, action, context.policy, context.now())) {
    throw refuse(request, `${action} ${resource}`);
  }
}

/**
 * How a project reference is read: 'auto' is Harbor's {project_name_or_id} (a number is an
 * id unless X-Is-Resource-Name: true), 'name' and 'id' are fixed.
 */
export type ProjectRefKind = 'auto' | 'name' | 'id';

export async function findProject(request: ApiRequest, context: ApiContext, ref: string, kind: ProjectRefKind = 'auto'): Promise<Project> {
  const numeric = /^\d{1,15}$/.test(ref);
  if (kind === 'id' && !numeric) throw new ApiError('BAD_REQUEST', 'a project id is a number');
  const byName = kind === 'name' || (kind === 'auto' && (request.headers['x-is-resource-name'] === 'true' || !numeric));
  const project = byName ? await context.access.getProjectByName(ref) : await context.access.getProject(Number(ref));
  if (project === undefined) throw new ApiError('NOT_FOUND', `project ${ref} not found`);
  return project;
}

export interface ProjectAccess {
  project: Project;
  /** The caller's view of the project (its role, if a member). */
  view: ProjectContext;
}

/** The project, if the caller may do `action` on `resource` in it. */
export async function requireProject(
  request: ApiRequest,
  context: ApiContext,
  ref: string,
  resource: ProjectResource,
  action: Action,
  kind: ProjectRefKind = 'auto',
): Promise<ProjectAccess> {
  const project = await findProject(request, context, ref, kind);
  const view = (await projectContext(request.caller.principal, project.name, context.access)) ?? { name: project.name, public: project.public };
  if (!canInProject(request.caller.principal, view, resource, action, context.now())) {
    throw refuse(request, `${action} ${resource} in project ${project.name}`);
  }
  return { project, view };
}

export function allowedInProject(request: ApiRequest, context: ApiContext, view: ProjectContext, resource: ProjectResource, action: Action): boolean {
  return canInProject(request.caller.principal, view, resource, action, context.now());
}
