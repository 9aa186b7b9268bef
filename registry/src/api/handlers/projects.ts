/** /projects: list, existence check, create, get, update, delete. */
import { canInProject, canInSystem } from '../../auth/permissions.ts';
import { projectContext } from '../../auth/grant.ts';
import type { Project, ProjectFilter } from '../../metadata/access-store.ts';
import type { Handler } from '../context.ts';
import { param } from './params.ts';
import { ApiError } from '../errors.ts';
import { API_PREFIX } from '../operations.ts';
import { booleanParam, pagedResult, pageOf, parseQ, termText } from '../paging.ts';
import { requireAuthenticated, requireProject, requireSystem } from '../policy.ts';
import { presentProject } from '../present.ts';
import { location, recordChange } from './record.ts';
import { purgeRepository } from './repositories.ts';

/** Harbor's project name rule. */
const PROJECT_NAME_RE = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;

export const listProjects: Handler = async (request, context) => {
  const page = pageOf(request.query);
  const q = parseQ(request.query, ['name', 'public']);
  const principal = request.caller.principal;
  const nameTerm = q.get('name');
  const name = termText(nameTerm) ?? request.query.get('name') ?? undefined;
  const isPublic = booleanParam(termText(q.get('public')) ?? request.query.get('public'), 'public');
  const filter: ProjectFilter = {};
  if (name) filter.name = name;
  if (isPublic !== undefined) filter.public = isPublic;

  const seesAll = canInSystem(principal, 'project', 'list', context.policy, context.now()) || (principal.kind === 'user' && principal.sysadmin);
  let items: Project[];
  let total: number;
  if (seesAll || principal.kind === 'user') {
    if (!seesAll && principal.kind === 'user') filter.visibleToUserId = Number(principal.id);
    ({ items, total } = await context.access.listProjects(filter, page));
  } else if (principal.kind === 'anonymous') {
    if (filter.public === false) return pagedResult(request, [], 0, page);
    ({ items, total } = await context.access.listProjects({ ...filter, public: true }, page));
  } else {
    // Robots: public projects and those their permissions name. Rare and small: filtered here.
    const all = await context.access.listProjects(filter, { page: 1, pageSize: 100_000 });
    const visible = all.items.filter((p) => canInProject(principal, { name: p.name, public: p.public }, 'project', 'read', context.now()));
    total = visible.length;
    items = visible.slice((page.page - 1) * page.pageSize, page.page * page.pageSize);
  }
  // q name=foo is an exact match (name=~foo a fuzzy one).
  if (nameTerm?.kind === 'exact') {
    items = items.filter((p) => p.name === nameTerm.value);
    total = items.length;
  }
  const views = await Promise.all(items.map((p) => projectContext(principal, p.name, context.access)));
  return pagedResult(request, items.map((p, i) => presentProject(p, views[i])), total, page);
};

export const headProject: Handler = async (request, context) => {
  requireAuthenticated(request);
  const name = request.query.get('project_name');
  if (!name) throw new ApiError('BAD_REQUEST', 'project_name is required');
  const project = await context.access.getProjectByName(name);
  if (project === undefined) throw new ApiError('NOT_FOUND', `project ${name} not found`);
  return { status: 200 };
};

interface ProjectReqBody {
  project_name: string;
  public?: boolean;
  metadata?: Record<string, string>;
  storage_limit?: number;
}

export const createProject: Handler = async (request, context) => {
  requireAuthenticated(request);
  requireSystem(request, context, 'project', 'create');
  const body = request.body as ProjectReqBody;
  if (!PROJECT_NAME_RE.test(body.project_name)) {
    throw new ApiError('BAD_REQUEST', 'project_name: lower-case letters, digits and . _ - separators only');
  }
  const { public: publicText, ...metadata } = body.metadata ?? {};
  const isPublic = publicText !== undefined ? parsePublic(publicText) : (body.public ?? false);
  const principal = request.caller.principal;
  const project = await context.access.createProject({
    name: body.project_name,
    public: isPublic,
    metadata,
    ...(body.storage_limit !== undefined ? { storageLimit: body.storage_limit } : {}),
    ...(principal.kind === 'user' ? { ownerId: Number(principal.id) } : {}),
  });
  recordChange(request, context, 'create', 'project', project.name, project.name, { public: isPublic });
  return { status: 201, headers: location(`${API_PREFIX}/projects/${project.id}`) };
};

export const getProject: Handler = async (request, context) => {
  const { project, view } = await requireProject(request, context, param(request, 'project_name_or_id'), 'project', 'read');
  return { status: 200, body: presentProject(project, view) };
};

export const updateProject: Handler = async (request, context) => {
  const { project } = await requireProject(request, context, param(request, 'project_name_or_id'), 'project', 'update');
  const body = request.body as { metadata?: Record<string, string>; storage_limit?: number };
  const { public: publicText, ...metadata } = body.metadata ?? {};
  await context.access.updateProject(project.id, {
    ...(publicText !== undefined ? { public: parsePublic(publicText) } : {}),
    ...(Object.keys(metadata).length > 0 ? { metadata } : {}),
    ...(body.storage_limit !== undefined ? { storageLimit: body.storage_limit } : {}),
  });
  recordChange(request, context, 'update', 'project', project.name, project.name, { fields: Object.keys(body.metadata ?? {}) });
  return { status: 200 };
};

export const deleteProject: Handler = async (request, context) => {
  const { project } = await requireProject(request, context, param(request, 'project_name_or_id'), 'project', 'delete');
  const force = request.query.get('force') === 'true';
  if (force) {
    // Repository by repository first, so the /v2 caches forget their manifests.
    for (;;) {
      const { items } = await context.metadata.listProjectRepositories(project.name, {}, { page: 1, pageSize: 100 });
      if (items.length === 0) break;
      for (const repository of items) await purgeRepository(context, repository.name);
    }
  }
  await context.access.deleteProject(project.id, { force });
  recordChange(request, context, 'delete', 'project', project.name, project.name, force ? { force } : undefined);
  return { status: 200 };
};

function parsePublic(text: string): boolean {
  if (text === 'true') return true;
  if (text === 'false') return false;
  throw new ApiError('BAD_REQUEST', 'metadata.public must be "true" or "false"');
}

