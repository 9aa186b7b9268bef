/**
 * /users: administrators manage users; a user reads and updates itself and changes its own
 * password (giving the old one). The last administrator cannot be removed or demoted.
 */
import { canInSystem, type Action } from '../../auth/permissions.ts';
import type { User } from '../../metadata/access-store.ts';
import type { ApiContext, ApiRequest, Handler } from '../context.ts';
import { ApiError } from '../errors.ts';
import { API_PREFIX } from '../operations.ts';
import { pagedResult, pageOf, parseQ, termText } from '../paging.ts';
import { refuse, requireAuthenticated, requireSystem } from '../policy.ts';
import { presentUser } from '../present.ts';
import { param } from './params.ts';
import { location, recordChange } from './record.ts';

const USER_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,254}$/;

/** Harbor's password rule: 8 to 128 characters with an upper-case letter, a lower-case letter and a digit. */
export function passwordProblem(password: string): string | undefined {
  if (password.length < 8 || password.length > 128 || !/[A-Z]/.test(password) || !/[a-z]/.test(password) || !/[0-9]/.test(password)) {
    return 'password: 8 to 128 characters with an upper-case letter, a lower-case letter and a digit';
  }
  return undefined;
}

function userId(request: ApiRequest): number {
  const text = param(request, 'user_id');
  if (!/^\d{1,15}$/.test(text)) throw new ApiError('BAD_REQUEST', 'user_id must be a user id');
  return Number(text);
}

function isSelf(request: ApiRequest, id: number): boolean {
  const principal = request.caller.principal;
  return principal.kind === 'user' && principal.id === String(id);
}

/** The user, if the caller is an administrator (or the user itself, when `selfAllowed`). */
async function authorizedUser(request: ApiRequest, context: ApiContext, action: Action, selfAllowed: boolean): Promise<User> {
  requireAuthenticated(request);
  const id = userId(request);
  const admin = canInSystem(request.caller.principal, 'user', action, context.policy, context.now());
  if (!admin && !(selfAllowed && isSelf(request, id))) throw refuse(request, `${action} user ${id}`);
  const user = await context.access.getUser(id);
  if (user === undefined) throw new ApiError('NOT_FOUND', `user ${id} not found`);
  return user;
}

export const listUsers: Handler = async (request, context) => {
  requireSystem(request, context, 'user', 'list');
  const page = pageOf(request.query);
  const q = parseQ(request.query, ['username', 'email']);
  const name = termText(q.get('username')) ?? request.query.get('username') ?? undefined;
  const email = termText(q.get('email')) ?? request.query.get('email') ?? undefined;
  const { items, total } = await context.access.listUsers({ ...(name ? { name } : {}), ...(email ? { email } : {}) }, page);
  return pagedResult(request, items.map(presentUser), total, page);
};

export const createUser: Handler = async (request, context) => {
  requireSystem(request, context, 'user', 'create');
  const body = request.body as { username: string; password: string; email?: string; realname?: string; comment?: string };
  if (!USER_NAME_RE.test(body.username) || body.username.startsWith('robot$')) {
    throw new ApiError('BAD_REQUEST', 'username: letters, digits and . _ @ -, not starting with robot$');
  }
  const problem = passwordProblem(body.password);
  if (problem) throw new ApiError('BAD_REQUEST', problem);
  const user = await context.access.createUser({
    name: body.username,
    passwordHash: await context.passwords.hash(body.password),
    ...(body.email ? { email: body.email } : {}),
    ...(body.realname !== undefined ? { realname: body.realname } : {}),
    ...(body.comment !== undefined ? { comment: body.comment } : {}),
  });
  recordChange(request, context, 'create', 'user', user.name);
  return { status: 201, headers: location(`${API_PREFIX}/users/${user.id}`) };
};

export const getCurrentUser: Handler = async (request, context) => {
  requireAuthenticated(request);
  const principal = request.caller.principal;
  if (principal.kind !== 'user') throw new ApiError('FORBIDDEN', 'robot accounts have no user profile');
  const user = await context.access.getUser(Number(principal.id));
  if (user === undefined) throw new ApiError('NOT_FOUND', 'user not found');
  return { status: 200, body: presentUser(user) };
};

export const getUser: Handler = async (request, context) => {
  const user = await authorizedUser(request, context, 'read', true);
  return { status: 200, body: presentUser(user) };
};

export const updateUser: Handler = async (request, context) => {
  const user = await authorizedUser(request, context, 'update', true);
  const body = request.body as { email?: string; realname?: string; comment?: string };
  await context.access.updateUser(user.id, {
    ...(body.email !== undefined ? { email: body.email === '' ? null : body.email } : {}),
    ...(body.realname !== undefined ? { realname: body.realname } : {}),
    ...(body.comment !== undefined ? { comment: body.comment } : {}),
  });
  recordChange(request, context, 'update', 'user', user.name, undefined, { fields: Object.keys(body) });
  return { status: 200 };
};

export const deleteUser: Handler = async (request, context) => {
  const user = await authorizedUser(request, context, 'delete', false);
  if (isSelf(request, user.id)) throw new ApiError('FORBIDDEN', 'you cannot delete yourself');
  if (user.sysadmin && !user.disabled && (await context.access.countAdmins()) <= 1) {
    throw new ApiError('CONFLICT', 'the last administrator cannot be deleted');
  }
  await context.access.deleteUser(user.id);
  recordChange(request, context, 'delete', 'user', user.name);
  return { status: 200 };
};

export const updatePassword: Handler = async (request, context) => {
  const user = await authorizedUser(request, context, 'update', true);
  const body = request.body as { old_password?: string; new_password: string };
  if (isSelf(request, user.id)) {
    // Even an administrator proves the old password for its own account (a stolen session is not enough).
    const record = await context.access.findUser(user.name);
    const oldOk = record !== undefined && body.old_password !== undefined && (await context.passwords.verify(record.passwordHash, body.old_password));
    if (!oldOk) throw new ApiError('FORBIDDEN', 'old_password is wrong');
  }
  const problem = passwordProblem(body.new_password);
  if (problem) throw new ApiError('BAD_REQUEST', problem);
  await context.access.setUserPassword(user.id, await context.passwords.hash(body.new_password));
  recordChange(request, context, 'update', 'user', user.name, undefined, { change: 'password' });
  return { status: 200 };
};

export const setSysadmin: Handler = async (request, context) => {
  const user = await authorizedUser(request, context, 'update', false);
  const flag = (request.body as { sysadmin_flag: boolean }).sysadmin_flag;
  if (!flag && user.sysadmin && !user.disabled && (await context.access.countAdmins()) <= 1) {
    throw new ApiError('CONFLICT', 'the last administrator cannot be demoted');
  }
  await context.access.updateUser(user.id, { sysadmin: flag });
  recordChange(request, context, 'update', 'user', user.name, undefined, { sysadmin: flag });
  return { status: 200 };
};
