/**
 * Every /api/v2.0 operation, declared once: the router registers exactly these (a handler
 * per id), request bodies are checked against their schemas, and the OpenAPI 3.1 document
 * served at /api/v2.0/openapi.json is generated from this table. Tests walk it to prove
 * every path is exercised and every response matches.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import * as S from './schemas.ts';

export type HttpMethod = 'get' | 'head' | 'post' | 'put' | 'patch' | 'delete';

export interface Operation {
  id: string;
  method: HttpMethod;
  /** OpenAPI template under /api/v2.0, e.g. /projects/{project_name_or_id}. */
  path: string;
  tag: string;
  summary: string;
  request?: TSchema;
  /** Success responses; errors share the default response (Harbor's error shape). */
  responses: Record<number, { description: string; schema?: TSchema; text?: boolean }>;
  /** Harbor-style page, page_size and q parameters, with X-Total-Count and Link headers. */
  paged?: boolean;
  query?: Array<{ name: string; description: string; type: 'string' | 'boolean' | 'integer' }>;
}

export const API_PREFIX = '/api/v2.0';

const P = '/projects/{project_name_or_id}';
const R = '/projects/{project_name}/repositories/{repository_name}';
const A = `${R}/artifacts/{reference}`;
const ok = (description: string, schema?: TSchema) => ({ 200: schema ? { description, schema } : { description } });
const created = { 201: { description: 'created; Location names the new resource' } };
const done = { 200: { description: 'done' } };
const forceQuery = [{ name: 'force', type: 'boolean' as const, description: 'delete a project that still has repositories, with them' }];

export const OPERATIONS: readonly Operation[] = [
  { id: 'ping', method: 'get', path: '/ping', tag: 'system', summary: 'Liveness: answers "Pong"', responses: { 200: { description: 'Pong', schema: S.PongText, text: true } } },
  { id: 'getHealth', method: 'get', path: '/health', tag: 'system', summary: "Each backend's status", responses: { 200: { description: 'every backend answers', schema: S.Health }, 503: { description: 'a backend is down', schema: S.Health } } },
  { id: 'getSystemInfo', method: 'get', path: '/systeminfo', tag: 'system', summary: 'General system information', responses: ok('system information', S.SystemInfo) },
  { id: 'getOpenApi', method: 'get', path: '/openapi.json', tag: 'system', summary: 'This document', responses: ok('OpenAPI 3.1 document', S.OpenApiDocument) },

  { id: 'listProjects', method: 'get', path: '/projects', tag: 'project', summary: 'Projects the caller may see', paged: true,
    query: [
      { name: 'name', type: 'string', description: 'substring of the name' },
      { name: 'public', type: 'boolean', description: 'only public (true) or private (false) projects' },
    ],
    responses: ok('projects', Type.Array(S.Project)) },
  { id: 'headProject', method: 'head', path: '/projects', tag: 'project', summary: 'Whether a project name is taken (200) or not (404)',
    query: [{ name: 'project_name', type: 'string', description: 'the name to check' }], responses: { 200: { description: 'the project exists' } } },
  { id: 'createProject', method: 'post', path: '/projects', tag: 'project', summary: 'Create a project (the creator becomes its Project Admin)', request: S.ProjectReq, responses: created },
  { id: 'getProject', method: 'get', path: P, tag: 'project', summary: 'One project (by id, or by name; X-Is-Resource-Name: true forces a name)', responses: ok('project', S.Project) },
  { id: 'updateProject', method: 'put', path: P, tag: 'project', summary: 'Update metadata (public, ...) and storage limit', request: S.ProjectUpdateReq, responses: done },
  { id: 'deleteProject', method: 'delete', path: P, tag: 'project', summary: 'Delete a project (412 while it has repositories, unless force=true)', query: forceQuery, responses: done },

  { id: 'listRepositories', method: 'get', path: '/projects/{project_name}/repositories', tag: 'repository', summary: 'Repositories of a project', paged: true, responses: ok('repositories', Type.Array(S.Repository)) },
  { id: 'getRepository', method: 'get', path: R, tag: 'repository', summary: 'One repository (repository_name without the project, slashes encoded as %252F)', responses: ok('repository', S.Repository) },
  { id: 'deleteRepository', method: 'delete', path: R, tag: 'repository', summary: 'Delete a repository with its artifacts and tags', responses: done },
  { id: 'listArtifacts', method: 'get', path: `${R}/artifacts`, tag: 'artifact', summary: 'Artifacts (manifests) of a repository, newest first', paged: true, responses: ok('artifacts', Type.Array(S.Artifact)) },
  { id: 'getArtifact', method: 'get', path: A, tag: 'artifact', summary: 'One artifact by digest or tag', responses: ok('artifact', S.Artifact) },
  { id: 'deleteArtifact', method: 'delete', path: A, tag: 'artifact', summary: 'Delete an artifact and every tag on it', responses: done },
  { id: 'listTags', method: 'get', path: `${A}/tags`, tag: 'artifact', summary: 'Tags of an artifact', paged: true, responses: ok('tags', Type.Array(S.Tag)) },
  { id: 'createTag', method: 'post', path: `${A}/tags`, tag: 'artifact', summary: 'Tag an artifact (409 when the tag exists)', request: S.TagReq, responses: created },
  { id: 'deleteTag', method: 'delete', path: `${A}/tags/{tag_name}`, tag: 'artifact', summary: 'Remove one tag', responses: done },

  { id: 'listMembers', method: 'get', path: `${P}/members`, tag: 'member', summary: 'Members of a project', paged: true,
    query: [{ name: 'entityname', type: 'string', description: 'substring of the user name' }], responses: ok('members', Type.Array(S.Member)) },
  { id: 'createMember', method: 'post', path: `${P}/members`, tag: 'member', summary: 'Add a user with a role (role_id: 1 Project Admin, 2 Developer, 3 Guest, 4 Maintainer, 5 Limited Guest)', request: S.MemberReq, responses: created },
  { id: 'getMember', method: 'get', path: `${P}/members/{mid}`, tag: 'member', summary: 'One membership', responses: ok('member', S.Member) },
  { id: 'updateMember', method: 'put', path: `${P}/members/{mid}`, tag: 'member', summary: "Change a member's role", request: S.RoleReq, responses: done },
  { id: 'deleteMember', method: 'delete', path: `${P}/members/{mid}`, tag: 'member', summary: 'Remove a member', responses: done },

  { id: 'listProjectRobots', method: 'get', path: `${P}/robots`, tag: 'robot', summary: 'Robot accounts of a project', paged: true, responses: ok('robots', Type.Array(S.Robot)) },
  { id: 'createProjectRobot', method: 'post', path: `${P}/robots`, tag: 'robot', summary: 'Create a project robot in this project (secret shown once)', request: S.RobotCreateReq, responses: { 201: { description: 'created', schema: S.RobotCreated } } },
  { id: 'listRobots', method: 'get', path: '/robots', tag: 'robot', summary: 'Robot accounts (q: Level=system|project, ProjectID=n, name=~x)', paged: true, responses: ok('robots', Type.Array(S.Robot)) },
  { id: 'createRobot', method: 'post', path: '/robots', tag: 'robot', summary: 'Create a robot account (secret shown once; never more than the creator holds)', request: S.RobotCreateReq, responses: { 201: { description: 'created', schema: S.RobotCreated } } },
  { id: 'getRobot', method: 'get', path: '/robots/{robot_id}', tag: 'robot', summary: 'One robot account', responses: ok('robot', S.Robot) },
  { id: 'updateRobot', method: 'put', path: '/robots/{robot_id}', tag: 'robot', summary: 'Update description, permissions, duration, enable/disable', request: S.RobotUpdateReq, responses: done },
  { id: 'refreshRobotSecret', method: 'patch', path: '/robots/{robot_id}', tag: 'robot', summary: 'Refresh the secret (generated, or the one given)', request: S.RobotSecretReq, responses: ok('the new secret, shown once', S.RobotSecret) },
  { id: 'deleteRobot', method: 'delete', path: '/robots/{robot_id}', tag: 'robot', summary: 'Delete a robot account', responses: done },

  { id: 'listUsers', method: 'get', path: '/users', tag: 'user', summary: 'Users (administrators only; q: username=~x, email=~y)', paged: true, responses: ok('users', Type.Array(S.User)) },
  { id: 'createUser', method: 'post', path: '/users', tag: 'user', summary: 'Create a user (administrators only)', request: S.UserCreateReq, responses: created },
  { id: 'getCurrentUser', method: 'get', path: '/users/current', tag: 'user', summary: 'The calling user', responses: ok('user', S.User) },
  { id: 'getUser', method: 'get', path: '/users/{user_id}', tag: 'user', summary: 'One user (administrators, or the user)', responses: ok('user', S.User) },
  { id: 'updateUser', method: 'put', path: '/users/{user_id}', tag: 'user', summary: 'Update profile (administrators, or the user)', request: S.UserUpdateReq, responses: done },
  { id: 'deleteUser', method: 'delete', path: '/users/{user_id}', tag: 'user', summary: 'Delete a user (administrators only; not oneself)', responses: done },
  { id: 'updatePassword', method: 'put', path: '/users/{user_id}/password', tag: 'user', summary: 'Change a password (the user gives old_password; administrators need not)', request: S.PasswordReq, responses: done },
  { id: 'setSysadmin', method: 'put', path: '/users/{user_id}/sysadmin', tag: 'user', summary: 'Grant or revoke system administrator (never the last one)', request: S.SysadminReq, responses: done },

  { id: 'listAuditLogs', method: 'get', path: '/audit-logs', tag: 'auditlog', summary: 'Audit log, newest first (q: username, operation, resource_type, resource=~prefix, op_time=[from~to])', paged: true, responses: ok('audit entries', Type.Array(S.AuditLog)) },
  { id: 'listProjectLogs', method: 'get', path: '/projects/{project_name}/logs', tag: 'auditlog', summary: "Audit log of one project's resources", paged: true, responses: ok('audit entries', Type.Array(S.AuditLog)) },
];

/** Koa router path of an OpenAPI template: {name} → :name. */
export function routerPath(template: string): string {
  return API_PREFIX + template.replace(/\{([a-z_]+)\}/g, ':$1');
}

export function pathParameters(template: string): string[] {
  return [...template.matchAll(/\{([a-z_]+)\}/g)].map((m) => m[1] as string);
}

export function openApiDocument(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) {
    const parameters: unknown[] = pathParameters(op.path).map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } }));
    if (op.paged) {
      parameters.push(
        { name: 'page', in: 'query', schema: { type: 'integer', minimum: 1, default: 1 } },
        { name: 'page_size', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100, default: 10 } },
        { name: 'q', in: 'query', description: 'Harbor query: k=v (exact), k=~v (fuzzy), k=[a~b] (range), comma-separated', schema: { type: 'string' } },
      );
    }
    for (const q of op.query ?? []) parameters.push({ name: q.name, in: 'query', description: q.description, schema: { type: q.type } });
    const responses: Record<string, unknown> = {};
    for (const [status, response] of Object.entries(op.responses)) {
      const entry: Record<string, unknown> = { description: response.description };
      if (response.schema) entry.content = { [response.text ? 'text/plain' : 'application/json']: { schema: response.schema } };
      if (op.paged && status === '200') {
        entry.headers = {
          'X-Total-Count': { description: 'total matches', schema: { type: 'integer' } },
          Link: { description: 'prev/next pages', schema: { type: 'string' } },
        };
      }
      responses[status] = entry;
    }
    responses.default = { description: 'error', content: { 'application/json': { schema: S.ErrorBody } } };
    const operation: Record<string, unknown> = { operationId: op.id, tags: [op.tag], summary: op.summary, parameters, responses };
    if (op.request) operation.requestBody = { required: true, content: { 'application/json': { schema: op.request } } };
    (paths[op.path] ??= {})[op.method] = operation;
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Berth management API', version, description: "Harbor-compatible /api/v2.0 paths and shapes. Basic auth or a session cookie (writes need X-Harbor-CSRF-Token)." },
    servers: [{ url: API_PREFIX }],
    components: { securitySchemes: { basic: { type: 'http', scheme: 'basic' }, session: { type: 'apiKey', in: 'cookie', name: 'sid' } } },
    security: [{ basic: [] }, { session: [] }, {}],
    paths,
  };
}
