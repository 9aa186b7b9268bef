/**
 * Real clients (crane, skopeo, oras) against the auth modules, served by a minimal
 * node:http adapter written here: /service/token through TokenService and a tags-list route
 * on /v2 through RegistryAccessController. It proves the wire format (challenge, token
 * response, issued_at, OAuth2 POST) before the Koa routes exist; the full registry gets the
 * same clients in e2e/ once auth is wired in.
 */
import { expect } from 'chai';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testEnv } from '../../../e2e/env/test-env.ts';
import { run } from '../../../e2e/lib/run.ts';
import { Value } from '@sinclair/typebox/value';
import { AuthSchema, createAuth, TOKEN_PATH, type AuthConfig, type AuthParts } from '../../src/auth/config.ts';
import { AuthError } from '../../src/auth/errors.ts';
import { Argon2PasswordHasher, generateSecret, hashSecret } from '../../src/auth/secrets.ts';
import { tokenErrorResponse } from '../../src/auth/token-service.ts';
import { FakeCache, FakeDirectory, TestClock } from './fakes.ts';

const TAGS = ['v1', 'v2'];

describe('auth with real clients (crane, skopeo, podman, helm, oras)', function () {
  this.timeout(120_000);
  let server: Server;
  let host: string;
  let auth: AuthParts;
  let work: string;
  let robotSecret: string;
  const seen: string[] = [];

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'berth-auth-clients-'));
    const directory = new FakeDirectory();
    const hasher = new Argon2PasswordHasher({ memoryCost: 1024, timeCost: 1 });
    directory.projects.set('library', { name: 'library', public: true });
    directory.projects.set('team', { name: 'team', public: false });
    directory.users.set('alice', { id: 'u1', name: 'alice', passwordHash: await hasher.hash('alice-Pa55word'), sysadmin: false });
    directory.addMember('team', 'u1', 'guest');
    robotSecret = generateSecret();
    directory.robots.set('robot$team+ci', {
      id: 'r1',
      name: 'robot$team+ci',
      secretHash: hashSecret(robotSecret),
      level: 'project',
      permissions: [{ kind: 'project', namespace: 'team', access: [{ resource: 'repository', action: 'pull' }] }],
      disabled: false,
      expiresAt: null,
    });

    server = createServer((req, res) => {
      handle(req, res).catch((err: unknown) => {
        res.statusCode = 500;
        res.end(String(err));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    const config = Value.Default(AuthSchema, { enabled: true, service: host, passwordHash: { memoryKiB: 1024, passes: 1 } }) as AuthConfig;
    auth = await createAuth(config, { cache: new FakeCache(new TestClock(Date.now())), identities: directory, projects: directory, externalURL: `http://${host}` });
  });

  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(work, { recursive: true, force: true });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', `http://${host}`);
    seen.push(`${req.method} ${url.pathname}`);
    if (url.pathname === TOKEN_PATH) {
      const params: Record<string, string[]> = {};
      const source = req.method === 'POST' ? new URLSearchParams(await body(req)) : url.searchParams;
      for (const [key, value] of source) (params[key] ??= []).push(value);
      try {
        const token = await auth.tokens.handle({ method: req.method ?? 'GET', params, authorization: req.headers.authorization, clientAddress: req.socket.remoteAddress ?? 'unknown' });
        return json(res, 200, token);
      } catch (err) {
        if (!(err instanceof AuthError)) throw err;
        const failure = tokenErrorResponse(err, 'berth');
        for (const [name, value] of Object.entries(failure.headers)) res.setHeader(name, value);
        return json(res, failure.status, failure.body);
      }
    }
    const tags = /^\/v2\/(.+)\/tags\/list$/.exec(url.pathname);
    const wanted = tags ? [{ type: 'repository' as const, name: tags[1] as string, actions: ['pull'] }] : [];
    if (!tags && url.pathname !== '/v2/') return json(res, 404, { errors: [{ code: 'NAME_UNKNOWN', message: 'not here' }] });
    const decision = await auth.access.authorize({ method: req.method ?? 'GET', headers: req.headers }, wanted);
    if (!decision.ok) {
      if (decision.challenge) res.setHeader('WWW-Authenticate', decision.challenge);
      return json(res, decision.status, { errors: [{ code: decision.code, message: decision.message }] });
    }
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    return json(res, 200, tags ? { name: tags[1], tags: TAGS } : {});
  }

  const env = (): Record<string, string> => ({ DOCKER_CONFIG: join(work, 'docker'), REGISTRY_AUTH_FILE: join(work, 'auth.json'), HOME: work });

  it('crane: anonymous pull of a public project works; a private one is refused', async () => {
    const crane = testEnv().tools.crane;
    const listed = await run(crane, ['ls', '--insecure', `${host}/library/app`], { env: env() });
    expect(listed.stdout.trim().split('\n')).to.deep.equal(TAGS);
    const refused = await run(crane, ['ls', '--insecure', `${host}/team/app`], { env: env(), allowFailure: true });
    expect(refused.code).to.not.equal(0);
    expect(refused.stderr).to.include('UNAUTHORIZED');
  });

  it('crane: after `crane auth login`, a member lists a private project', async () => {
    const crane = testEnv().tools.crane;
    await run(crane, ['auth', 'login', host, '-u', 'alice', '-p', 'alice-Pa55word'], { env: env() });
    const listed = await run(crane, ['ls', '--insecure', `${host}/team/app`], { env: env() });
    expect(listed.stdout.trim().split('\n')).to.deep.equal(TAGS);
    await run(crane, ['auth', 'logout', host], { env: env() });
  });

  it('skopeo: --creds with a user and with a robot account; wrong creds refused', async () => {
    const skopeo = testEnv().tools.skopeo;
    for (const creds of ['alice:alice-Pa55word', `robot$team+ci:${robotSecret}`]) {
      const listed = await run(skopeo, ['list-tags', '--tls-verify=false', '--creds', creds, `docker://${host}/team/app`], { env: env() });
      expect((JSON.parse(listed.stdout) as { Tags: string[] }).Tags).to.deep.equal(TAGS);
    }
    const refused = await run(skopeo, ['list-tags', '--tls-verify=false', '--creds', 'alice:wrong', `docker://${host}/team/app`], { env: env(), allowFailure: true });
    expect(refused.code).to.not.equal(0);
    expect(refused.stderr.toLowerCase()).to.include('unauthorized');
    expect(refused.stderr).to.not.include('wrong');
  });

  it('podman login and skopeo login: right credentials accepted, wrong ones refused', async () => {
    for (const tool of [testEnv().tools.podman, testEnv().tools.skopeo]) {
      const ok = await run(tool, ['login', '--tls-verify=false', '-u', 'alice', '-p', 'alice-Pa55word', host], { env: env() });
      expect(ok.stdout).to.include('Login Succeeded');
      const bad = await run(tool, ['login', '--tls-verify=false', '-u', 'alice', '-p', 'not-her-password', host], { env: env(), allowFailure: true });
      expect(bad.code, `${tool} login with a wrong password`).to.not.equal(0);
      await run(tool, ['logout', host], { env: env(), allowFailure: true });
    }
  });

  it('helm registry login (OAuth2 POST first): user and robot accepted, wrong password refused', async () => {
    const helm = testEnv().tools.helm;
    seen.length = 0;
    const ok = await run(helm, ['registry', 'login', '--insecure', '--plain-http', '-u', 'alice', '-p', 'alice-Pa55word', host], { env: env(), allowFailure: true });
    expect(ok.code, ok.stderr).to.equal(0);
    expect(seen).to.include(`POST ${TOKEN_PATH}`);
    const robot = await run(helm, ['registry', 'login', '--insecure', '--plain-http', '-u', 'robot$team+ci', '-p', robotSecret, host], { env: env(), allowFailure: true });
    expect(robot.code, robot.stderr).to.equal(0);
    const bad = await run(helm, ['registry', 'login', '--insecure', '--plain-http', '-u', 'alice', '-p', 'not-her-password', host], { env: env(), allowFailure: true });
    expect(bad.code).to.not.equal(0);
  });

  it('oras: user credentials over the token flow', async () => {
    const oras = testEnv().tools.oras;
    seen.length = 0;
    const listed = await run(oras, ['repo', 'tags', '--plain-http', '-u', 'alice', '-p', 'alice-Pa55word', `${host}/team/app`], { env: env() });
    expect(listed.stdout.trim().split('\n')).to.deep.equal(TAGS);
    expect(seen.some((line) => line.endsWith(TOKEN_PATH))).to.equal(true);
  });
});

function json(res: ServerResponse, status: number, value: unknown): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify(value));
}

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
