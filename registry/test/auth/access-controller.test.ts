import { expect } from 'chai';
import { pushAccess, uploadStartAccess, type AccessRequest } from '../../src/http/access.ts';
import { RegistryAccessController } from '../../src/auth/access-controller.ts';
import { PasswordAuthenticator } from '../../src/auth/authenticator.ts';
import { generateSigningKey, verificationKeyOf } from '../../src/auth/keys.ts';
import { LoginRateLimiter } from '../../src/auth/login-rate-limit.ts';
import type { ProjectRole } from '../../src/auth/permissions.ts';
import { Argon2PasswordHasher, generateSecret, hashSecret } from '../../src/auth/secrets.ts';
import { TokenService } from '../../src/auth/token-service.ts';
import { TokenIssuer, TokenVerifier } from '../../src/auth/tokens.ts';
import { FakeCache, FakeDirectory, TestClock } from './fakes.ts';
import { EXPECTED, type MatrixPrincipal } from './matrix.ts';

const SERVICE = 'registry.example';
const REALM = 'https://registry.example/service/token';
const ISSUER = 'berth-token-issuer';

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

const OPERATIONS = {
  pull: { method: 'GET', wanted: (repo: string): AccessRequest[] => [{ type: 'repository', name: repo, actions: ['pull'] }] },
  push: { method: 'PUT', wanted: (repo: string): AccessRequest[] => [{ type: 'repository', name: repo, actions: ['pull', 'push'] }] },
  delete: { method: 'DELETE', wanted: (repo: string): AccessRequest[] => [{ type: 'repository', name: repo, actions: ['delete'] }] },
  catalog: { method: 'GET', wanted: (): AccessRequest[] => [{ type: 'registry', name: 'catalog', actions: ['*'] }] },
} as const;

function scopeParam(wanted: AccessRequest[]): string[] {
  return wanted.map((w) => `${w.type}:${w.name}:${w.actions.join(',')}`);
}

describe('auth/access-controller: /v2 access with tokens, Basic and anonymous callers', () => {
  let clock: TestClock;
  let directory: FakeDirectory;
  let tokens: TokenService;
  let controller: RegistryAccessController;
  let issuer: TokenIssuer;
  const credentials = new Map<string, { user: string; password: string }>();

  before(async () => {
    clock = new TestClock();
    directory = new FakeDirectory();
    const hasher = new Argon2PasswordHasher({ memoryCost: 1024, timeCost: 1 });
    directory.projects.set('team', { name: 'team', public: false });
    directory.projects.set('library', { name: 'library', public: true });
    const roles: Array<[MatrixPrincipal, ProjectRole | undefined, boolean]> = [
      ['projectAdmin', 'projectAdmin', false],
      ['maintainer', 'maintainer', false],
      ['developer', 'developer', false],
      ['guest', 'guest', false],
      ['limitedGuest', 'limitedGuest', false],
      ['non-member', undefined, false],
      ['system admin', undefined, true],
    ];
    for (const [label, role, sysadmin] of roles) {
      const name = label.replace(/\s/g, '-').toLowerCase();
      const password = `${name}-Pa55`;
      directory.users.set(name, { id: `u-${name}`, name, passwordHash: await hasher.hash(password), sysadmin });
      if (role) for (const project of ['team', 'library']) directory.addMember(project, `u-${name}`, role);
      credentials.set(label, { user: name, password });
    }
    for (const project of ['team', 'library']) {
      const secret = generateSecret();
      const name = `robot$${project}+ci`;
      directory.robots.set(name, {
        id: `r-${project}`,
        name,
        secretHash: hashSecret(secret),
        level: 'project',
        permissions: [{ kind: 'project', namespace: project, access: [{ resource: 'repository', action: 'pull' }, { resource: 'repository', action: 'push' }] }],
        disabled: false,
        expiresAt: null,
      });
      credentials.set(`project robot@${project}`, { user: name, password: secret });
    }
    const systemSecret = generateSecret();
    directory.robots.set('robot$mirror', {
      id: 'r-mirror',
      name: 'robot$mirror',
      secretHash: hashSecret(systemSecret),
      level: 'system',
      permissions: [
        { kind: 'project', namespace: '*', access: [{ resource: 'repository', action: 'pull' }] },
        { kind: 'system', namespace: '/', access: [{ resource: 'catalog', action: 'read' }] },
      ],
      disabled: false,
      expiresAt: null,
    });
    credentials.set('system robot', { user: 'robot$mirror', password: systemSecret });

    const key = await generateSigningKey('ES256');
    issuer = new TokenIssuer({ issuer: ISSUER, signingKey: key, now: clock.now });
    const verifier = new TokenVerifier({ issuer: ISSUER, audience: SERVICE, keys: [verificationKeyOf(key)], now: clock.now });
    const authenticator = new PasswordAuthenticator({
      identities: directory,
      passwords: hasher,
      rateLimiter: new LoginRateLimiter(new FakeCache(clock), { now: clock.now }),
      now: clock.now,
    });
    tokens = new TokenService({ service: SERVICE, issuer, verifier, authenticator, identities: directory, projects: directory, now: clock.now });
    controller = new RegistryAccessController({ realm: REALM, service: SERVICE, verifier, authenticator, projects: directory, now: clock.now });
  });

  function credentialsOf(label: MatrixPrincipal, project: string): { user: string; password: string } | undefined {
    if (label === 'anonymous') return undefined;
    const found = credentials.get(label === 'project robot' ? `project robot@${project}` : label);
    if (!found) throw new Error(`no credentials for ${label}`);
    return found;
  }

  async function tokenFor(label: MatrixPrincipal, project: string, wanted: AccessRequest[]): Promise<string> {
    const creds = credentialsOf(label, project);
    const body = await tokens.handle({
      method: 'GET',
      params: { service: SERVICE, scope: scopeParam(wanted) },
      authorization: creds ? basic(creds.user, creds.password) : undefined,
      clientAddress: '192.0.2.9',
    });
    return body.token;
  }

  for (const visibility of ['private', 'public'] as const) {
    const project = visibility === 'private' ? 'team' : 'library';
    for (const label of Object.keys(EXPECTED[visibility]) as MatrixPrincipal[]) {
      for (const op of ['pull', 'push', 'delete', 'catalog'] as const) {
        const allowed = EXPECTED[visibility][label][op];
        const refusedBasic = label === 'anonymous' ? '401 UNAUTHORIZED' : '403 DENIED';
        it(`${label} ${op} on a ${visibility} project: token ${allowed ? 'ok' : '401'}, Basic ${allowed ? 'ok' : refusedBasic}`, async () => {
          const { method, wanted: make } = OPERATIONS[op];
          const wanted = make(`${project}/app`);

          // The token flow: ask the token endpoint for exactly this scope, then present the token.
          const token = await tokenFor(label, project, wanted);
          const viaToken = await controller.authorize({ method, headers: { authorization: `Bearer ${token}` } }, wanted);
          if (allowed) {
            expect(viaToken.ok).to.equal(true);
          } else {
            expect(viaToken).to.include({ ok: false, status: 401, code: 'UNAUTHORIZED' });
            if (!viaToken.ok) expect(viaToken.challenge).to.include('error="insufficient_scope"');
          }

          // Basic credentials straight on /v2 (scripts), or nothing at all for anonymous.
          const creds = credentialsOf(label, project);
          const headers = creds ? { authorization: basic(creds.user, creds.password) } : {};
          const viaBasic = await controller.authorize({ method, headers }, wanted);
          if (allowed) {
            expect(viaBasic.ok).to.equal(true);
            if (viaBasic.ok && creds) expect(viaBasic.subject).to.equal(creds.user);
          } else if (label === 'anonymous') {
            expect(viaBasic).to.include({ ok: false, status: 401, code: 'UNAUTHORIZED' });
          } else {
            expect(viaBasic).to.include({ ok: false, status: 403, code: 'DENIED' });
          }
        });
      }
    }
  }

  it('GET /v2/ without credentials answers 401 with the Bearer challenge', async () => {
    const decision = await controller.authorize({ method: 'GET', headers: {} }, []);
    expect(decision).to.deep.equal({
      ok: false,
      status: 401,
      code: 'UNAUTHORIZED',
      challenge: `Bearer realm="${REALM}",service="${SERVICE}"`,
      message: 'authentication required',
    });
  });

  it('an anonymous refusal names the scope to ask for', async () => {
    const decision = await controller.authorize({ method: 'PUT', headers: {} }, OPERATIONS.push.wanted('library/app'));
    expect(decision.ok).to.equal(false);
    if (!decision.ok) expect(decision.challenge).to.equal(`Bearer realm="${REALM}",service="${SERVICE}",scope="repository:library/app:pull,push"`);
  });

  it("a mount's source repository is named in the challenge but not required", async () => {
    const wanted = uploadStartAccess('team/dest', { mount: 'sha256:x', from: 'library/src' });
    const anonymous = await controller.authorize({ method: 'POST', headers: {} }, wanted);
    expect(anonymous.ok).to.equal(false);
    if (!anonymous.ok) {
      expect(anonymous.challenge).to.equal(`Bearer realm="${REALM}",service="${SERVICE}",scope="repository:team/dest:pull,push repository:library/src:pull"`);
    }
    // A token without the source (or Basic credentials) still opens the upload itself.
    const pushOnly = await tokenFor('developer', 'team', OPERATIONS.push.wanted('team/dest'));
    expect(await controller.authorize({ method: 'POST', headers: { authorization: `Bearer ${pushOnly}` } }, wanted)).to.deep.equal({ ok: true, subject: 'developer' });
    const { user, password } = credentialsOf('developer', 'team')!;
    expect(await controller.authorize({ method: 'POST', headers: { authorization: basic(user, password) } }, wanted)).to.deep.equal({ ok: true, subject: 'developer' });
    // No mount, or a mount without `from` or from itself: push alone.
    expect(uploadStartAccess('team/dest', {})).to.deep.equal(pushAccess('team/dest'));
    expect(uploadStartAccess('team/dest', { mount: 'sha256:x' })).to.deep.equal(pushAccess('team/dest'));
    expect(uploadStartAccess('team/dest', { mount: 'sha256:x', from: 'team/dest' })).to.deep.equal(pushAccess('team/dest'));
    expect(uploadStartAccess('team/dest', { mount: 'sha256:x', from: 'Bad..Name' })).to.deep.equal(pushAccess('team/dest'));
  });

  it('a pull token is not a push token, and a token for repository A does not open repository B', async () => {
    const pullToken = await tokenFor('developer', 'team', OPERATIONS.pull.wanted('team/a'));
    const push = await controller.authorize({ method: 'PUT', headers: { authorization: `Bearer ${pullToken}` } }, OPERATIONS.push.wanted('team/a'));
    expect(push).to.include({ ok: false, status: 401 });
    const other = await controller.authorize({ method: 'GET', headers: { authorization: `Bearer ${pullToken}` } }, OPERATIONS.pull.wanted('team/b'));
    expect(other).to.include({ ok: false, status: 401 });
    const same = await controller.authorize({ method: 'GET', headers: { authorization: `Bearer ${pullToken}` } }, OPERATIONS.pull.wanted('team/a'));
    expect(same).to.deep.equal({ ok: true, subject: 'developer' });
  });

  it('an expired or foreign token gets error="invalid_token"', async () => {
    const token = await tokenFor('developer', 'team', OPERATIONS.pull.wanted('team/a'));
    const foreignKey = await generateSigningKey('ES256');
    const foreign = await new TokenIssuer({ issuer: ISSUER, signingKey: foreignKey, now: clock.now }).issueAccessToken({
      subject: 'developer',
      audience: SERVICE,
      access: [{ type: 'repository', name: 'team/a', actions: ['pull'] }],
    });
    const refusedForeign = await controller.authorize({ method: 'GET', headers: { authorization: `Bearer ${foreign.token}` } }, OPERATIONS.pull.wanted('team/a'));
    expect(refusedForeign).to.include({ ok: false, status: 401, code: 'UNAUTHORIZED' });
    if (!refusedForeign.ok) expect(refusedForeign.challenge).to.include('error="invalid_token"');
    clock.advance(400);
    try {
      const expired = await controller.authorize({ method: 'GET', headers: { authorization: `Bearer ${token}` } }, OPERATIONS.pull.wanted('team/a'));
      expect(expired).to.include({ ok: false, status: 401, message: 'invalid token: expired' });
    } finally {
      clock.advance(-400);
    }
  });

  it('says when a project does not exist, to authenticated callers only', async () => {
    const wanted = OPERATIONS.push.wanted('nope/app');
    const dev = credentials.get('developer');
    if (!dev) throw new Error('fixture missing');
    const viaBasic = await controller.authorize({ method: 'PUT', headers: { authorization: basic(dev.user, dev.password) } }, wanted);
    // The refused caller is named (the audit log records the refusal); anonymous refusals name nobody.
    expect(viaBasic).to.deep.equal({ ok: false, status: 403, code: 'DENIED', message: 'project nope does not exist', subject: dev.user });
    const token = await tokenFor('developer', 'team', wanted);
    const viaToken = await controller.authorize({ method: 'PUT', headers: { authorization: `Bearer ${token}` } }, wanted);
    expect(viaToken).to.include({ ok: false, status: 401, message: 'project nope does not exist', subject: dev.user });
    const anonymous = await controller.authorize({ method: 'PUT', headers: {} }, wanted);
    expect(anonymous).to.include({ ok: false, status: 401, message: 'authentication required' });
    expect(anonymous).to.not.have.property('subject');
    const noProject = await controller.authorize({ method: 'PUT', headers: { authorization: basic(dev.user, dev.password) } }, OPERATIONS.push.wanted('alpine'));
    expect(noProject).to.include({ ok: false, status: 403 });
    if (!noProject.ok) expect(noProject.message).to.include('<project>/<repository>');
  });

  it('refuses wrong Basic credentials and malformed headers with 401', async () => {
    const wrong = await controller.authorize({ method: 'GET', headers: { authorization: basic('developer', 'wrong') } }, OPERATIONS.pull.wanted('library/app'));
    expect(wrong).to.include({ ok: false, status: 401, code: 'UNAUTHORIZED', message: 'invalid username or password' });
    const malformed = await controller.authorize({ method: 'GET', headers: { authorization: 'Basic ???' } }, OPERATIONS.pull.wanted('library/app'));
    expect(malformed).to.include({ ok: false, status: 401 });
  });
});
