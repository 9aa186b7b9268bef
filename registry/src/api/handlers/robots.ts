/**
 * Robot accounts, system and project level (Harbor's /robots, plus /projects/{p}/robots).
 * The secret is generated here, returned once, and stored only as a hash. A robot never
 * holds more than its creator (accessesBeyondCreator), at creation and on every change.
 */
import { projectContext } from '../../auth/grant.ts';
import { accessesBeyondCreator, type ProjectContext, type RobotPermission } from '../../auth/permissions.ts';
import { robotExpiry, robotFullName, robotProblems } from '../../auth/robots.ts';
import { generateSecret, hashSecret } from '../../auth/secrets.ts';
import type { Robot, RobotFilter } from '../../metadata/access-store.ts';
import type { ApiContext, ApiRequest, Handler } from '../context.ts';
import { ApiError } from '../errors.ts';
import { API_PREFIX } from '../operations.ts';
import { pagedResult, pageOf, parseQ, termText } from '../paging.ts';
import { findProject, requireProject, requireSystem } from '../policy.ts';
import { presentRobot } from '../present.ts';
import { param } from './params.ts';
import { location, recordChange } from './record.ts';
import type { Action } from '../../auth/permissions.ts';

interface RobotCreateBody {
  name: string;
  description?: string;
  level: 'system' | 'project';
  duration?: number;
  disable?: boolean;
  permissions: RobotPermission[];
}

function robotId(request: ApiRequest): number {
  const text = param(request, 'robot_id');
  if (!/^\d{1,15}$/.test(text)) throw new ApiError('BAD_REQUEST', 'robot_id must be a robot id');
  return Number(text);
}

/** The robot, if the caller may do `action` on it (system robots: system rights; project robots: the project's). */
async function authorizedRobot(request: ApiRequest, context: ApiContext, action: Action): Promise<Robot> {
  const robot = await context.access.getRobot(robotId(request));
  if (robot === undefined) throw new ApiError('NOT_FOUND', 'robot not found');
  if (robot.level === 'system' || robot.projectId === null) requireSystem(request, context, 'robot', action);
  else await requireProject(request, context, String(robot.projectId), 'robot', action, 'id');
  return robot;
}

/** Refuse permissions that are malformed or beyond what the caller holds. */
async function checkPermissions(
  request: ApiRequest,
  context: ApiContext,
  robot: { level: 'system' | 'project'; shortName: string; project?: string; durationDays: number },
  permissions: RobotPermission[],
): Promise<void> {
  const problems = robotProblems({ ...robot, permissions });
  if (problems.length > 0) throw new ApiError('BAD_REQUEST', problems.join('; '));
  const contexts = new Map<string, ProjectContext>();
  for (const permission of permissions) {
    if (permission.kind !== 'project' || permission.namespace === '*' || contexts.has(permission.namespace)) continue;
    const view = await projectContext(request.caller.principal, permission.namespace, context.access);
    if (view === undefined) throw new ApiError('NOT_FOUND', `project ${permission.namespace} not found`);
    contexts.set(permission.namespace, view);
  }
  const beyond = accessesBeyondCreator(request.caller.principal, contexts, permissions, context.now());
  if (beyond.length > 0) {
    const list = beyond.slice(0, 10).map((b) => `${b.namespace}:${b.resource}:${b.action}`).join(', ');
    throw new ApiError('FORBIDDEN', `a robot cannot hold more than its creator: ${list}`);
  }
}

async function create(request: ApiRequest, context: ApiContext, body: RobotCreateBody, pathProject?: string) {
  let projectId: number | undefined;
  let projectName: string | undefined;
  if (body.level === 'project') {
    const ref = pathProject ?? body.permissions[0]?.namespace;
    if (ref === undefined) throw new ApiError('BAD_REQUEST', 'a project robot names its project in permissions[0].namespace');
    const { project } = await requireProject(request, context, ref, 'robot', 'create', pathProject === undefined ? 'name' : 'id');
    projectId = project.id;
    projectName = project.name;
  } else {
    if (pathProject !== undefined) throw new ApiError('BAD_REQUEST', 'robots created under a project are project robots');
    requireSystem(request, context, 'robot', 'create');
  }
  const durationDays = body.duration ?? -1;
  await checkPermissions(
    request,
    context,
    { level: body.level, shortName: body.name, durationDays, ...(projectName !== undefined ? { project: projectName } : {}) },
    body.permissions,
  );
  const secret = generateSecret();
  const now = context.now();
  const robot = await context.access.createRobot({
    name: robotFullName(body.level, body.name, projectName),
    description: body.description ?? '',
    level: body.level,
    ...(projectId !== undefined ? { projectId } : {}),
    secretHash: hashSecret(secret),
    permissions: body.permissions,
    disabled: body.disable ?? false,
    durationDays,
    expiresAt: robotExpiry(durationDays, now),
    creator: request.caller.principal.kind === 'anonymous' ? '' : request.caller.principal.name,
  });
  recordChange(request, context, 'create', 'robot', robot.name, projectName, { level: robot.level });
  return {
    status: 201,
    headers: location(`${API_PREFIX}/robots/${robot.id}`),
    body: {
      id: robot.id,
      name: robot.name,
      secret,
      creation_time: robot.createdAt.toISOString(),
      expires_at: robot.expiresAt === null ? -1 : Math.floor(robot.expiresAt.getTime() / 1000),
    },
  };
}

export const createRobot: Handler = async (request, context) => create(request, context, request.body as RobotCreateBody);

export const createProjectRobot: Handler = async (request, context) => {
  const project = await findProject(request, context, param(request, 'project_name_or_id'));
  const body = { ...(request.body as RobotCreateBody), level: 'project' as const };
  return create(request, context, body, String(project.id));
};

export const listRobots: Handler = async (request, context) => {
  const page = pageOf(request.query);
  const q = parseQ(request.query, ['Level', 'ProjectID', 'name']);
  const filter: RobotFilter = {};
  const level = termText(q.get('Level'));
  if (level !== undefined) {
    if (level !== 'system' && level !== 'project') throw new ApiError('BAD_REQUEST', 'q Level: system or project');
    filter.level = level;
  }
  const name = termText(q.get('name'));
  if (name) filter.name = name;
  const projectRef = termText(q.get('ProjectID'));
  if (projectRef !== undefined) {
    const { project } = await requireProject(request, context, projectRef, 'robot', 'list', 'id');
    filter.projectId = project.id;
    filter.level = 'project';
  } else {
    requireSystem(request, context, 'robot', 'list');
  }
  const { items, total } = await context.access.listRobots(filter, page);
  return pagedResult(request, items.map(presentRobot), total, page);
};

export const listProjectRobots: Handler = async (request, context) => {
  const { project } = await requireProject(request, context, param(request, 'project_name_or_id'), 'robot', 'list');
  const page = pageOf(request.query);
  const { items, total } = await context.access.listRobots({ level: 'project', projectId: project.id }, page);
  return pagedResult(request, items.map(presentRobot), total, page);
};

export const getRobot: Handler = async (request, context) => {
  const robot = await authorizedRobot(request, context, 'read');
  return { status: 200, body: presentRobot(robot) };
};

export const updateRobot: Handler = async (request, context) => {
  const robot = await authorizedRobot(request, context, 'update');
  const body = request.body as { description?: string; duration?: number; disable?: boolean; permissions?: RobotPermission[] };
  const durationDays = body.duration ?? robot.durationDays;
  if (body.permissions !== undefined || body.duration !== undefined) {
    const shortName = robot.level === 'project' ? robot.name.slice(robot.name.indexOf('+') + 1) : robot.name.slice('robot$'.length);
    await checkPermissions(
      request,
      context,
      { level: robot.level, shortName, durationDays, ...(robot.projectName !== null ? { project: robot.projectName } : {}) },
      body.permissions ?? robot.permissions,
    );
  }
  await context.access.updateRobot(robot.id, {
    ...(body.description !== undefined ? { description: body.description } : {}),
    ...(body.disable !== undefined ? { disabled: body.disable } : {}),
    ...(body.permissions !== undefined ? { permissions: body.permissions } : {}),
    // Harbor counts the duration from the robot's creation.
    ...(body.duration !== undefined ? { durationDays, expiresAt: robotExpiry(durationDays, robot.createdAt) } : {}),
  });
  recordChange(request, context, 'update', 'robot', robot.name, robot.projectName ?? undefined, {
    fields: Object.keys(body).filter((k) => ['description', 'duration', 'disable', 'permissions'].includes(k)),
  });
  return { status: 200 };
};

/** Harbor's rule for a secret given by the caller: 8 to 128 characters with upper, lower and digit. */
function strongEnough(secret: string): boolean {
  return secret.length >= 8 && secret.length <= 128 && /[A-Z]/.test(secret) && /[a-z]/.test(secret) && /[0-9]/.test(secret);
}

export const refreshRobotSecret: Handler = async (request, context) => {
  const robot = await authorizedRobot(request, context, 'update');
  const given = (request.body as { secret?: string } | undefined)?.secret;
  if (given !== undefined && given !== '' && !strongEnough(given)) {
    throw new ApiError('BAD_REQUEST', 'secret: 8 to 128 characters with an upper-case letter, a lower-case letter and a digit');
  }
  const secret = given !== undefined && given !== '' ? given : generateSecret();
  await context.access.setRobotSecret(robot.id, hashSecret(secret));
  recordChange(request, context, 'update', 'robot', robot.name, robot.projectName ?? undefined, { change: 'secret' });
  return { status: 200, body: { secret } };
};

export const deleteRobot: Handler = async (request, context) => {
  const robot = await authorizedRobot(request, context, 'delete');
  await context.access.deleteRobot(robot.id);
  recordChange(request, context, 'delete', 'robot', robot.name, robot.projectName ?? undefined);
  return { status: 200 };
};
