/**
 * Berth with auth on, as a real process: its own token signing key (so tests can forge
 * tokens that differ from real ones in one claim only), an admin password from the
 * environment as the operator passes it, and the accounts the acceptance tests act as.
 */
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK } from 'jose';
import { startBerth, type Backends, type BerthProcess } from '../lib/berth.ts';
import { freePort } from '../lib/net.ts';

export const SERVICE = 'berth-registry';
export const ISSUER = 'berth-token-issuer';

export interface Credentials {
  username: string;
  password: string;
}

export interface SigningMaterial {
  privateKey: KeyObject;
  kid: string;
}

export interface AuthBerth {
  berth: BerthProcess;
  admin: Credentials;
  signing: SigningMaterial;
  /** Every password, secret and token the tests saw, to search the logs for. */
  secrets: Set<string>;
}

/** A password that satisfies any policy and is unique enough to grep for. */
export function newPassword(label: string): string {
  return `${label}-${randomBytes(12).toString('base64url')}-Aa1`;
}

export async function signingMaterial(): Promise<SigningMaterial> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, kid: await calculateJwkThumbprint(await exportJWK(publicKey), 'sha256') };
}

export async function startAuthBerth(backends: Backends, dir: string): Promise<AuthBerth> {
  await mkdir(dir, { recursive: true });
  const signing = await signingMaterial();
  const keyFile = join(dir, 'signing.key');
  await writeFile(keyFile, signing.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const port = await freePort();
  const admin = { username: 'admin', password: newPassword('admin') };
  const berth = await startBerth({
    backends,
    dir,
    port,
    extraConfig: {
      http: { address: '127.0.0.1', port, externalURL: `http://127.0.0.1:${port}` },
      auth: { enabled: true, service: SERVICE, issuer: ISSUER, signingKeyFile: keyFile },
    },
    env: { BERTH_AUTH_ADMIN_PASSWORD: admin.password },
    // Everything the registry can say, so the credential search covers the most output.
    logLevel: 'debug',
  });
  return { berth, admin, signing, secrets: new Set([admin.password, basic(admin).slice(6)]) };
}

export function basic(creds: Credentials): string {
  return `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
}

export interface JsonReply {
  status: number;
  headers: Headers;
  body: any;
}

/** One /api/v2.0 call with Basic credentials; the body is JSON when there is one. */
export async function api(berth: BerthProcess, creds: Credentials, method: string, path: string, body?: unknown): Promise<JsonReply> {
  const res = await fetch(`${berth.url}/api/v2.0${path}`, {
    method,
    headers: { authorization: basic(creds), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON */
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

/** Like api(), but any status other than `expected` fails with the answer. */
export async function apiExpect(
  berth: BerthProcess,
  creds: Credentials,
  expected: number,
  method: string,
  path: string,
  body?: unknown,
): Promise<JsonReply> {
  const reply = await api(berth, creds, method, path, body);
  if (reply.status !== expected) {
    throw new Error(`${method} /api/v2.0${path}: expected ${expected}, got ${reply.status}: ${JSON.stringify(reply.body)}`);
  }
  return reply;
}

/** GET /service/token with Basic credentials (or anonymously); the raw reply. */
export async function requestToken(
  berth: BerthProcess,
  creds: Credentials | undefined,
  scopes: string[],
  service = SERVICE,
): Promise<JsonReply> {
  const query = new URLSearchParams({ service });
  for (const scope of scopes) query.append('scope', scope);
  const res = await fetch(`${berth.url}/service/token?${query}`, { headers: creds ? { authorization: basic(creds) } : {} });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

/** The claims of a JWT, unverified (to look at what was granted). */
export function claimsOf(token: string): Record<string, any> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));
}

/** The accounts every scenario uses: a private project, a developer in it, robots. */
export interface Accounts {
  /** Private project. */
  project: string;
  developer: Credentials;
  /** A user with no role anywhere. */
  outsider: Credentials;
  /** Project robot with repository pull+push on `project`. */
  robot: Credentials & { id: number };
}

export async function createAccounts(auth: AuthBerth, project: string): Promise<Accounts> {
  const { berth, admin } = auth;
  await apiExpect(berth, admin, 201, 'POST', '/projects', { project_name: project, metadata: { public: 'false' } });
  const developer = { username: `dev-${project}`, password: newPassword('dev') };
  const outsider = { username: `outsider-${project}`, password: newPassword('outsider') };
  for (const user of [developer, outsider]) {
    await apiExpect(berth, admin, 201, 'POST', '/users', { username: user.username, password: user.password, email: `${user.username}@example.test` });
    auth.secrets.add(user.password).add(basic(user).slice(6));
  }
  await apiExpect(berth, admin, 201, 'POST', `/projects/${project}/members`, { role_id: 2, member_user: { username: developer.username } });
  const robot = await createRobot(auth, project, 'ci');
  return { project, developer, outsider, robot };
}

export async function createRobot(auth: AuthBerth, project: string, name: string): Promise<Credentials & { id: number }> {
  const created = await apiExpect(auth.berth, auth.admin, 201, 'POST', '/robots', {
    name,
    level: 'project',
    duration: -1,
    permissions: [
      {
        kind: 'project',
        namespace: project,
        access: [
          { resource: 'repository', action: 'pull' },
          { resource: 'repository', action: 'push' },
        ],
      },
    ],
  });
  const body = created.body as { id: number; name: string; secret: string };
  const robot = { id: body.id, username: body.name, password: body.secret };
  auth.secrets.add(robot.password).add(basic(robot).slice(6));
  return robot;
}
