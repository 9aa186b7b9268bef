/**
 * The /api/v2.0 management API and the portal's /c/login, /c/log_out, as one Koa middleware
 * (other paths pass through). Every route comes from OPERATIONS: identify the caller, read
 * and check the body against the operation's schema, call the handler, write the result.
 */
import { Router } from '@koa/router';
import { Value } from '@sinclair/typebox/value';
import type { Context, Middleware, Next } from 'koa';
import { readFormBody, readJsonBody } from './body.ts';
import { identifyCaller, cookieValue, type Caller } from './caller.ts';
import type { ApiContext, Handler, ManagementDeps } from './context.ts';
import { ApiError, apiErrorResponse } from './errors.ts';
import { API_PREFIX, OPERATIONS, routerPath } from './operations.ts';
import { CSRF_HEADER, SESSION_COOKIE, SessionStore } from './sessions.ts';
import { DEFAULT_SYSTEM_POLICY } from '../auth/permissions.ts';
import * as audit from './handlers/audit-logs.ts';
import * as members from './handlers/members.ts';
import * as projects from './handlers/projects.ts';
import * as repositories from './handlers/repositories.ts';
import * as robots from './handlers/robots.ts';
import * as system from './handlers/system.ts';
import * as users from './handlers/users.ts';

const HANDLERS: Record<string, Handler> = {
  ...pick(system, ['ping', 'getHealth', 'getSystemInfo', 'getOpenApi']),
  ...pick(projects, ['listProjects', 'headProject', 'createProject', 'getProject', 'updateProject', 'deleteProject']),
  ...pick(repositories, ['listRepositories', 'getRepository', 'deleteRepository', 'listArtifacts', 'getArtifact', 'deleteArtifact', 'listTags', 'createTag', 'deleteTag']),
  ...pick(members, ['listMembers', 'createMember', 'getMember', 'updateMember', 'deleteMember']),
  ...pick(robots, ['listProjectRobots', 'createProjectRobot', 'listRobots', 'createRobot', 'getRobot', 'updateRobot', 'refreshRobotSecret', 'deleteRobot']),
  ...pick(users, ['listUsers', 'createUser', 'getCurrentUser', 'getUser', 'updateUser', 'deleteUser', 'updatePassword', 'setSysadmin']),
  ...pick(audit, ['listAuditLogs', 'listProjectLogs']),
};

function pick(module: Record<string, unknown>, names: string[]): Record<string, Handler> {
  return Object.fromEntries(names.map((name) => [name, module[name] as Handler]));
}

export const SESSION_LOGIN_PATH = '/c/login';
export const SESSION_LOGOUT_PATH = '/c/log_out';

/**
 * The management API as a Koa middleware: handles /api/v2.0/* and /c/login, /c/log_out,
 * and passes every other request on.
 */
export function createManagementRouter(deps: ManagementDeps): Middleware {
  const context: ApiContext = {
    ...deps,
    sessions: new SessionStore(deps.cache, deps.sessionTtlSeconds === undefined ? {} : { ttlSeconds: deps.sessionTtlSeconds }),
    policy: deps.system.policy ?? DEFAULT_SYSTEM_POLICY,
    now: deps.now ?? (() => new Date()),
  };
  const router = new Router();
  // HEAD operations first: a GET route on the same path would answer HEAD too.
  const ordered = [...OPERATIONS].sort((a, b) => Number(b.method === 'head') - Number(a.method === 'head'));
  for (const op of ordered) {
    const handler = HANDLERS[op.id];
    if (handler === undefined) throw new Error(`no handler for operation ${op.id}`);
    router.register(routerPath(op.path), [op.method.toUpperCase()], async (ctx: Context) => {
      const caller = await callerOf(ctx, context);
      let body: unknown;
      if (op.request) {
        body = await readJsonBody(ctx.req);
        if (body === undefined && op.method === 'patch') body = {};
        if (!Value.Check(op.request, body)) {
          const first = Value.Errors(op.request, body).First();
          throw new ApiError('BAD_REQUEST', first ? `request body ${first.path || '/'}: ${first.message}` : 'invalid request body');
        }
      }
      const result = await handler(
        {
          path: ctx.path,
          params: (ctx as Context & { params: Record<string, string> }).params,
          query: new URLSearchParams(ctx.querystring),
          body,
          headers: ctx.headers,
          caller,
          clientAddress: ctx.ip,
        },
        context,
      );
      ctx.status = result.status;
      if (result.headers) ctx.set(result.headers);
      if (result.body !== undefined) ctx.body = result.body;
    });
  }
  router.post(SESSION_LOGIN_PATH, (ctx) => login(ctx, context));
  router.post(SESSION_LOGOUT_PATH, (ctx) => logout(ctx, context));
  router.get(SESSION_LOGOUT_PATH, (ctx) => logout(ctx, context));

  const notMatched: Middleware = async (ctx) => {
    const matched = router.match(ctx.path, ctx.method);
    if (matched.path.length > 0) throw new ApiError('METHOD_NOT_ALLOWED', `${ctx.method} is not allowed on ${ctx.path}`);
    throw new ApiError('NOT_FOUND', `no API path ${ctx.path}`);
  };
  const errors = apiErrorResponse(deps.logger);
  const routes = router.routes() as unknown as Middleware;
  const api = (ctx: Context) => errors(ctx, () => routes(ctx, () => notMatched(ctx, async () => {})));
  return async (ctx: Context, next: Next) => {
    if (ctx.path === API_PREFIX || ctx.path.startsWith(API_PREFIX + '/') || ctx.path === SESSION_LOGIN_PATH || ctx.path === SESSION_LOGOUT_PATH) {
      ctx.set('Cache-Control', 'no-store');
      return api(ctx);
    }
    return next();
  };
}

async function callerOf(ctx: Context, context: ApiContext): Promise<Caller> {
  const caller = await identifyCaller(
    { method: ctx.method, headers: ctx.headers, clientAddress: ctx.ip },
    { authenticator: context.authenticator, identities: context.access, sessions: context.sessions },
  );
  if (caller.session) ctx.set(CSRF_HEADER, caller.session.data.csrf);
  return caller;
}

/** Harbor's portal login: form fields `principal` and `password`; sets the session cookie. */
async function login(ctx: Context, context: ApiContext): Promise<void> {
  const form = await readFormBody(ctx.req);
  const name = typeof form['principal'] === 'string' ? form['principal'] : undefined;
  const password = typeof form['password'] === 'string' ? form['password'] : undefined;
  if (!name || password === undefined) throw new ApiError('BAD_REQUEST', 'principal and password are required');
  const principal = await context.authenticator.authenticate(name, password, ctx.ip, 'session');
  if (principal.kind !== 'user') throw new ApiError('FORBIDDEN', 'robot accounts cannot open a session');
  const session = await context.sessions.create({ id: principal.id, name: principal.name });
  ctx.append('Set-Cookie', sessionCookie(session.id, context.sessions.ttlSeconds, context.secureCookies ?? false));
  ctx.set(CSRF_HEADER, session.data.csrf);
  ctx.status = 200;
  ctx.body = { username: principal.name };
}

async function logout(ctx: Context, context: ApiContext): Promise<void> {
  const id = cookieValue(ctx.headers['cookie'], SESSION_COOKIE);
  if (id !== undefined) await context.sessions.delete(id);
  ctx.append('Set-Cookie', sessionCookie('', 0, context.secureCookies ?? false));
  ctx.status = 200;
  ctx.body = {};
}

function sessionCookie(value: string, maxAge: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${value}; Path=/; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
}
