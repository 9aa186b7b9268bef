/** /projects/{p}/members: Harbor's member API (users only; no groups). */
import { PROJECT_ROLE_IDS, type ProjectRole } from '../../auth/permissions.ts';
import type { ApiRequest, Handler } from '../context.ts';
import { ApiError } from '../errors.ts';
import { API_PREFIX } from '../operations.ts';
import { pagedResult, pageOf } from '../paging.ts';
import { requireProject } from '../policy.ts';
import { presentMember } from '../present.ts';
import { param } from './params.ts';
import { location, recordChange } from './record.ts';

const ROLE_BY_ID = new Map<number, ProjectRole>(Object.entries(PROJECT_ROLE_IDS).map(([role, id]) => [id, role as ProjectRole]));

function roleOf(roleId: number): ProjectRole {
  const role = ROLE_BY_ID.get(roleId);
  if (role === undefined) throw new ApiError('BAD_REQUEST', 'role_id: 1 Project Admin, 2 Developer, 3 Guest, 4 Maintainer, 5 Limited Guest');
  return role;
}

function memberId(request: ApiRequest): number {
  const text = param(request, 'mid');
  if (!/^\d{1,15}$/.test(text)) throw new ApiError('BAD_REQUEST', 'mid must be a member id');
  return Number(text);
}

export const listMembers: Handler = async (request, context) => {
  const { project } = await requireProject(request, context, param(request, 'project_name_or_id'), 'member', 'list');
  const page = pageOf(request.query);
  const userName = request.query.get('entityname');
  const { items, total } = await context.access.listMembers(project.id, userName ? { userName } : {}, page);
  return pagedResult(request, items.map(presentMember), total, page);
};

export const createMember: Handler = async (request, context) => {
  const { project } = await requireProject(request, context, param(request, 'project_name_or_id'), 'member', 'create');
  const body = request.body as { role_id: number; member_user: { user_id?: number; username?: string } };
  const role = roleOf(body.role_id);
  const wanted = body.member_user;
  const user =
    wanted.user_id !== undefined
      ? await context.access.getUser(wanted.user_id)
      : wanted.username !== undefined
        ? await context.access.getUserByName(wanted.username)
        : undefined;
  if (wanted.user_id === undefined && wanted.username === undefined) throw new ApiError('BAD_REQUEST', 'member_user needs user_id or username');
  if (user === undefined) throw new ApiError('NOT_FOUND', 'user not found');
  const member = await context.access.addMember(project.id, user.id, role);
  recordChange(request, context, 'create', 'member', user.name, project.name, { role });
  return { status: 201, headers: location(`${API_PREFIX}/projects/${project.id}/members/${member.id}`) };
};

export const getMember: Handler = async (request, context) => {
  const { project } = await requireProject(request, context, param(request, 'project_name_or_id'), 'member', 'read');
  const member = await context.access.getMember(project.id, memberId(request));
  if (member === undefined) throw new ApiError('NOT_FOUND', 'member not found');
  return { status: 200, body: presentMember(member) };
};

export const updateMember: Handler = async (request, context) => {
  const { project } = await requireProject(request, context, param(request, 'project_name_or_id'), 'member', 'update');
  const role = roleOf((request.body as { role_id: number }).role_id);
  const member = await context.access.updateMemberRole(project.id, memberId(request), role);
  recordChange(request, context, 'update', 'member', member.userName, project.name, { role });
  return { status: 200 };
};

export const deleteMember: Handler = async (request, context) => {
  const { project } = await requireProject(request, context, param(request, 'project_name_or_id'), 'member', 'delete');
  const id = memberId(request);
  const member = await context.access.getMember(project.id, id);
  if (member === undefined) throw new ApiError('NOT_FOUND', 'member not found');
  await context.access.removeMember(project.id, id);
  recordChange(request, context, 'delete', 'member', member.userName, project.name);
  return { status: 200 };
};
