/**
 * The registry's management API (Harbor-compatible paths under /api/v2.0), as the operator
 * uses it with the admin credentials it holds. Requests go over HTTPS verified against the
 * Registry's own CA bundle.
 */
import { request } from 'node:https';
import { request as plainRequest } from 'node:http';
import type { CurrentMember } from './plan.ts';

export interface ProjectInfo {
  projectId: number;
  name: string;
  public: boolean;
}

export interface RobotInfo {
  id: number;
  /** Full name, robot$<project>+<name>. */
  name: string;
  disabled: boolean;
}

export interface ManagementApi {
  getProject(name: string): Promise<ProjectInfo | undefined>;
  createProject(name: string, options: { public: boolean; storageLimitBytes: number }): Promise<void>;
  setProjectPublic(name: string, isPublic: boolean): Promise<void>;
  deleteProject(name: string): Promise<void>;
  listMembers(project: string): Promise<CurrentMember[]>;
  addMember(project: string, member: { kind: 'User' | 'Group'; name: string; roleId: number }): Promise<void>;
  updateMember(project: string, id: number, roleId: number): Promise<void>;
  removeMember(project: string, id: number): Promise<void>;
  listRobots(projectId: number): Promise<RobotInfo[]>;
  createRobot(
    project: string,
    robot: { name: string; description?: string; durationDays: number; access: Array<{ resource: string; action: string }> },
  ): Promise<{ id: number; name: string; secret: string }>;
  deleteRobot(id: number): Promise<void>;
}

export class ManagementApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface HttpManagementApiOptions {
  /** e.g. https://registry.ns.svc:443 */
  baseURL: string;
  username: string;
  password: string;
  /** PEM bundle to verify the registry's certificate. */
  ca?: string;
}

export class HttpManagementApi implements ManagementApi {
  constructor(private readonly options: HttpManagementApiOptions) {}

  private call<T>(method: string, path: string, body?: unknown, okStatuses: number[] = [200, 201]): Promise<{ status: number; json: T | undefined }> {
    const url = new URL(`/api/v2.0${path}`, this.options.baseURL);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = {
      accept: 'application/json',
      authorization: `Basic ${Buffer.from(`${this.options.username}:${this.options.password}`).toString('base64')}`,
      'x-is-resource-name': 'true',
    };
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    const send = url.protocol === 'https:' ? request : plainRequest;
    return new Promise((resolve, reject) => {
      const req = send(url, { method, headers, ...(this.options.ca ? { ca: this.options.ca } : {}), timeout: 15_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const text = Buffer.concat(chunks).toString('utf8');
          if (!okStatuses.includes(status)) {
            // The body is the API's error document; it never echoes credentials.
            reject(new ManagementApiError(status, `${method} ${url.pathname}: ${status} ${text.slice(0, 300)}`));
            return;
          }
          // Some answers (201 Created, 200 OK) are plain text: only JSON bodies are parsed.
          const isJson = String(res.headers['content-type'] ?? '').includes('json');
          try {
            resolve({ status, json: text && isJson ? (JSON.parse(text) as T) : undefined });
          } catch (err) {
            reject(new ManagementApiError(status, `${method} ${url.pathname}: unreadable JSON (${(err as Error).message})`));
          }
        });
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${url.pathname}: timed out`)));
      req.on('error', reject);
      if (payload) req.write(payload);
      req.end();
    });
  }

  async getProject(name: string): Promise<ProjectInfo | undefined> {
    const { status, json } = await this.call<{ project_id: number; name: string; metadata?: { public?: string } }>('GET', `/projects/${encodeURIComponent(name)}`, undefined, [200, 404]);
    if (status === 404 || !json) return undefined;
    return { projectId: json.project_id, name: json.name, public: json.metadata?.public === 'true' };
  }

  async createProject(name: string, options: { public: boolean; storageLimitBytes: number }): Promise<void> {
    await this.call('POST', '/projects', {
      project_name: name,
      metadata: { public: String(options.public) },
      storage_limit: options.storageLimitBytes,
    });
  }

  async setProjectPublic(name: string, isPublic: boolean): Promise<void> {
    await this.call('PUT', `/projects/${encodeURIComponent(name)}`, { metadata: { public: String(isPublic) } });
  }

  async deleteProject(name: string): Promise<void> {
    await this.call('DELETE', `/projects/${encodeURIComponent(name)}`, undefined, [200, 202, 204, 404]);
  }

  async listMembers(project: string): Promise<CurrentMember[]> {
    const { json } = await this.call<Array<{ id: number; entity_name: string; entity_type: 'u' | 'g'; role_id: number }>>(
      'GET',
      `/projects/${encodeURIComponent(project)}/members?page_size=100`,
    );
    return (json ?? []).map((m) => ({ id: m.id, entityName: m.entity_name, entityType: m.entity_type, roleId: m.role_id }));
  }

  async addMember(project: string, member: { kind: 'User' | 'Group'; name: string; roleId: number }): Promise<void> {
    const body = member.kind === 'Group' ? { role_id: member.roleId, member_group: { group_name: member.name } } : { role_id: member.roleId, member_user: { username: member.name } };
    await this.call('POST', `/projects/${encodeURIComponent(project)}/members`, body);
  }

  async updateMember(project: string, id: number, roleId: number): Promise<void> {
    await this.call('PUT', `/projects/${encodeURIComponent(project)}/members/${id}`, { role_id: roleId });
  }

  async removeMember(project: string, id: number): Promise<void> {
    await this.call('DELETE', `/projects/${encodeURIComponent(project)}/members/${id}`, undefined, [200, 204, 404]);
  }

  async listRobots(projectId: number): Promise<RobotInfo[]> {
    const q = encodeURIComponent(`Level=project,ProjectID=${projectId}`);
    const { json } = await this.call<Array<{ id: number; name: string; disable: boolean }>>('GET', `/robots?q=${q}&page_size=100`);
    return (json ?? []).map((r) => ({ id: r.id, name: r.name, disabled: r.disable }));
  }

  async createRobot(
    project: string,
    robot: { name: string; description?: string; durationDays: number; access: Array<{ resource: string; action: string }> },
  ): Promise<{ id: number; name: string; secret: string }> {
    const { json } = await this.call<{ id: number; name: string; secret: string }>('POST', '/robots', {
      name: robot.name,
      description: robot.description ?? 'managed by berth-operator',
      duration: robot.durationDays,
      level: 'project',
      disable: false,
      permissions: [{ kind: 'project', namespace: project, access: robot.access }],
    });
    if (!json?.secret) throw new ManagementApiError(500, 'robot created without a secret in the response');
    return json;
  }

  async deleteRobot(id: number): Promise<void> {
    await this.call('DELETE', `/robots/${id}`, undefined, [200, 204, 404]);
  }
}
