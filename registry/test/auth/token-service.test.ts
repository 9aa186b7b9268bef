import { expect } from 'chai';
import { PasswordAuthenticator, type LoginEvent } from '../../src/auth/authenticator.ts';
import { AuthError } from '../../src/auth/errors.ts';
import { generateSigningKey, verificationKeyOf } from '../../src/auth/keys.ts';
import { LoginRateLimiter } from '../../src/auth/login-rate-limit.ts';
import { Argon2PasswordHasher, generateSecret, hashSecret } from '../../src/auth/secrets.ts';
import { tokenErrorResponse, TokenService, type TokenRequest, type TokenResponseBody } from '../../src/auth/token-service.ts';
import { TokenIssuer, TokenVerifier } from '../../src/auth/tokens.ts';
import { FakeCache, FakeDirectory, TestClock } from './fakes.ts';

const SERVICE = 'registry.example';
const ISSUER = 'berth-token-issuer';
const PASSWORDS = { alice: 'alice-Pa55word', admin: 'admin-Pa55word', gina: 'gina-Pa55word' };

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

describe('auth/token-service: the token endpoint', () => {
  let clock: TestClock;
  let directory: FakeDirectory;
  let verifier: TokenVerifier;
  let service: TokenService;
  let events: LoginEvent[];
  let robotSecret: string;

  beforeEach(async () => {
    clock = new TestClock();
    directory = new FakeDirectory();
    const hasher = new Argon2PasswordHasher({ memoryCost: 1024, timeCost: 1 });
    directory.users.set('alice', { id: 'u-alice', name: 'alice', passwordHash: await hasher.hash(PASSWORDS.alice), sysadmin: false });
    directory.users.set('admin', { id: 'u-admin', name: 'admin', passwordHash: await hasher.hash(PASSWORDS.admin), sysadmin: true });
    directory.users.set('gina', { id: 'u-gina', name: 'gina', passwordHash: await hasher.hash(PASSWORDS.gina), sysadmin: false });
    directory.projects.set('team', { name: 'team', public: false });
    directory.projects.set('library', { name: 'library', public: true });
    directory.addMember('team', 'u-alice', 'developer');
    directory.addMember('team', 'u-gina', 'guest');
    robotSecret = generateSecret();
    directory.robots.set('robot$team+ci', {
      id: 'r-1',
      name: 'robot$team+ci',
      secretHash: hashSecret(robotSecret),
      level: 'project',
      permissions: [{ kind: 'project', namespace: 'team', access: [{ resource: 'repository', action: 'pull' }, { resource: 'repository', action: 'push' }] }],
      disabled: false,
      expiresAt: new Date(clock.now().getTime() + 86_400_000),
    });
    const key = await generateSigningKey('ES256');
    const issuer = new TokenIssuer({ issuer: ISSUER, signingKey: key, now: clock.now });
    verifier = new TokenVerifier({ issuer: ISSUER, audience: SERVICE, keys: [verificationKeyOf(key)], now: clock.now });
    events = [];
    const authenticator = new PasswordAuthenticator({
      identities: directory,
      passwords: hasher,
      rateLimiter: new LoginRateLimiter(new FakeCache(clock), { maxFailuresPerUser: 3, maxFailuresPerAddress: 20, now: clock.now }),
      onLogin: (event) => events.push(event),
      now: clock.now,
    });
    service = new TokenService({ service: SERVICE, issuer, verifier, authenticator, identities: directory, projects: directory, now: clock.now });
  });

  const get = (params: TokenRequest['params'], authorization?: string): Promise<TokenResponseBody> =>
    service.handle({ method: 'GET', params: { service: SERVICE, ...params }, authorization, clientAddress: '192.0.2.1' });
  const post = (params: TokenRequest['params'], authorization?: string): Promise<TokenResponseBody> =>
    service.handle({ method: 'POST', params: { service: SERVICE, client_id: 'test', ...params }, authorization, clientAddress: '192.0.2.1' });

  async function failure(promise: Promise<unknown>): Promise<AuthError> {
    try {
      await promise;
    } catch (err) {
      if (err instanceof AuthError) return err;
      throw err;
    }
    throw new Error('expected an AuthError');
  }

  async function access(body: TokenResponseBody): Promise<Array<{ type: string; name: string; actions: string[] }>> {
    return (await verifier.verifyAccessToken(body.token)).access;
  }

  describe('GET (Docker token spec)', () => {
    it('gives a user what they asked for and may do, in the spec shape', async () => {
      const body = await get({ scope: ['repository:team/app:pull,push'], account: 'alice' }, basic('alice', PASSWORDS.alice));
      expect(body.token).to.equal(body.access_token);
      expect(body.expires_in).to.equal(300);
      expect(body.issued_at).to.equal(clock.now().toISOString());
      expect(body.issued_at).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
      expect(body).to.not.have.property('refresh_token');
      expect(await access(body)).to.deep.equal([{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }]);
      expect((await verifier.verifyAccessToken(body.token)).sub).to.equal('alice');
      expect(events).to.deep.equal([{ username: 'alice', clientAddress: '192.0.2.1', channel: 'token', outcome: 'success' }]);
    });

    it('drops a scope escalation instead of failing: a developer asking for delete gets pull,push', async () => {
      const body = await get({ scope: 'repository:team/app:pull,push,delete' }, basic('alice', PASSWORDS.alice));
      expect(await access(body)).to.deep.equal([{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }]);
      const guest = await get({ scope: 'repository:team/app:pull,push' }, basic('gina', PASSWORDS.gina));
      expect(await access(guest)).to.deep.equal([{ type: 'repository', name: 'team/app', actions: ['pull'] }]);
    });

    it('handles several scopes at once, leaving out the ones with nothing granted', async () => {
      const body = await get(
        { scope: ['repository:team/app:pull', 'repository:library/alpine:pull,push', 'repository:nope/x:push', 'registry:catalog:*'] },
        basic('alice', PASSWORDS.alice),
      );
      expect(await access(body)).to.deep.equal([
        { type: 'repository', name: 'team/app', actions: ['pull'] },
        { type: 'repository', name: 'library/alpine', actions: ['pull'] },
      ]);
      const admin = await get({ scope: ['registry:catalog:*', 'repository:team/app:*'] }, basic('admin', PASSWORDS.admin));
      expect(await access(admin)).to.deep.equal([
        { type: 'registry', name: 'catalog', actions: ['*'] },
        { type: 'repository', name: 'team/app', actions: ['*'] },
      ]);
    });

    it('gives anonymous callers pull on public projects only, and never a refresh token', async () => {
      const body = await get({ scope: ['repository:library/alpine:pull,push', 'repository:team/app:pull'], offline_token: 'true' });
      expect(await access(body)).to.deep.equal([{ type: 'repository', name: 'library/alpine', actions: ['pull'] }]);
      expect(body).to.not.have.property('refresh_token');
      expect((await verifier.verifyAccessToken(body.token)).sub).to.equal('');
    });

    it('gives a refresh token with offline_token=true', async () => {
      const body = await get({ scope: 'repository:team/app:pull', offline_token: 'true' }, basic('alice', PASSWORDS.alice));
      expect(body.refresh_token).to.be.a('string');
      expect(await verifier.verifyRefreshToken(body.refresh_token as string)).to.include({ sub: 'alice', principal: 'user', uid: 'u-alice' });
    });

    it('refuses wrong passwords and unknown users alike, without echoing the password', async () => {
      const wrong = await failure(get({ scope: 'repository:team/app:pull' }, basic('alice', 'not-the-password')));
      const unknown = await failure(get({ scope: 'repository:team/app:pull' }, basic('mallory', 'whatever-pw')));
      expect(wrong.code).to.equal('UNAUTHORIZED');
      expect(wrong.status).to.equal(401);
      expect(unknown.message).to.equal(wrong.message);
      expect(wrong.message).to.not.include('not-the-password');
      expect(events.map((e) => e.outcome)).to.deep.equal(['failure', 'failure']);
    });

    it('refuses a Bearer token or a malformed Authorization header', async () => {
      expect((await failure(get({}, 'Bearer abc'))).code).to.equal('UNAUTHORIZED');
      expect((await failure(get({}, 'Basic ???'))).code).to.equal('UNAUTHORIZED');
    });

    it('refuses another service, a malformed scope, and repeated single-valued parameters', async () => {
      expect((await failure(get({ service: 'other.example' }))).code).to.equal('INVALID_REQUEST');
      expect((await failure(get({ scope: 'repository:team/app' }))).code).to.equal('INVALID_REQUEST');
      expect((await failure(get({ service: [SERVICE, 'other.example'] }))).code).to.equal('INVALID_REQUEST');
      const noService = await service.handle({ method: 'GET', params: {}, clientAddress: '192.0.2.1' });
      expect(await access(noService)).to.deep.equal([]);
      expect((await failure(service.handle({ method: 'PUT', params: {}, clientAddress: 'x' }))).code).to.equal('INVALID_REQUEST');
    });

    it('rate-limits failed logins per user with TOOMANYREQUESTS, even for the right password afterwards', async () => {
      for (let i = 0; i < 3; i++) await failure(get({}, basic('alice', `guess-${i}`)));
      const locked = await failure(get({}, basic('alice', PASSWORDS.alice)));
      expect(locked.code).to.equal('TOOMANYREQUESTS');
      expect(locked.status).to.equal(429);
      expect(locked.retryAfterSeconds).to.be.within(1, 300);
      expect(events.at(-1)).to.deep.equal({ username: 'alice', clientAddress: '192.0.2.1', channel: 'token', outcome: 'rate-limited' });
      clock.advance(301);
      expect((await get({}, basic('alice', PASSWORDS.alice))).token).to.be.a('string');
    });
  });

  describe('robot accounts', () => {
    it('log in with their secret and get what their permissions allow', async () => {
      const body = await get({ scope: ['repository:team/app:pull,push,delete', 'repository:library/alpine:push'] }, basic('robot$team+ci', robotSecret));
      expect(await access(body)).to.deep.equal([{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }]);
      expect((await verifier.verifyAccessToken(body.token)).sub).to.equal('robot$team+ci');
    });

    it('cannot get a token when disabled, expired, or with a wrong secret', async () => {
      const robot = directory.robots.get('robot$team+ci');
      if (!robot) throw new Error('fixture missing');
      expect((await failure(get({}, basic('robot$team+ci', generateSecret())))).code).to.equal('UNAUTHORIZED');
      robot.disabled = true;
      const disabled = await failure(get({ scope: 'repository:team/app:pull' }, basic('robot$team+ci', robotSecret)));
      expect(disabled.code).to.equal('UNAUTHORIZED');
      expect(disabled.message).to.include('disabled or expired');
      robot.disabled = false;
      clock.advance(86_401);
      expect((await failure(get({}, basic('robot$team+ci', robotSecret)))).code).to.equal('UNAUTHORIZED');
      expect(events.map((e) => e.reason)).to.deep.equal(['bad-credentials', 'robot-inactive', 'robot-inactive']);
    });

    it('cannot refresh once disabled', async () => {
      const body = await post({ grant_type: 'password', username: 'robot$team+ci', password: robotSecret });
      const robot = directory.robots.get('robot$team+ci');
      if (!robot) throw new Error('fixture missing');
      robot.disabled = true;
      expect((await failure(post({ grant_type: 'refresh_token', refresh_token: body.refresh_token as string }))).code).to.equal('UNAUTHORIZED');
    });
  });

  describe('POST (OAuth2)', () => {
    it('password grant: space-separated scopes, always a refresh token, granted scope echoed', async () => {
      const body = await post({ grant_type: 'password', username: 'alice', password: PASSWORDS.alice, scope: 'repository:team/app:pull,push repository:team/app:delete' });
      expect(body.access_token).to.equal(body.token);
      expect(body.refresh_token).to.be.a('string');
      expect(body.scope).to.equal('repository:team/app:pull,push');
      expect(await access(body)).to.deep.equal([{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }]);
    });

    it('password grant may carry the credentials as Basic instead', async () => {
      const body = await post({ grant_type: 'password', scope: 'repository:team/app:pull' }, basic('alice', PASSWORDS.alice));
      expect(await access(body)).to.deep.equal([{ type: 'repository', name: 'team/app', actions: ['pull'] }]);
      expect((await failure(post({ grant_type: 'password' }))).code).to.equal('INVALID_REQUEST');
    });

    it('refresh grant: recomputes access from current permissions', async () => {
      const login = await post({ grant_type: 'password', username: 'alice', password: PASSWORDS.alice });
      const refreshed = await post({ grant_type: 'refresh_token', refresh_token: login.refresh_token as string, scope: 'repository:team/app:pull,push' });
      expect(await access(refreshed)).to.deep.equal([{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }]);
      expect(refreshed).to.not.have.property('refresh_token');
      directory.addMember('team', 'u-alice', 'guest');
      const demoted = await post({ grant_type: 'refresh_token', refresh_token: login.refresh_token as string, scope: 'repository:team/app:pull,push' });
      expect(await access(demoted)).to.deep.equal([{ type: 'repository', name: 'team/app', actions: ['pull'] }]);
    });

    it('refresh grant: refused for a deleted user, a user re-created under the same name, a forged or access token', async () => {
      const login = await post({ grant_type: 'password', username: 'alice', password: PASSWORDS.alice });
      const refresh = login.refresh_token as string;
      const alice = directory.users.get('alice');
      if (!alice) throw new Error('fixture missing');
      directory.users.set('alice', { ...alice, id: 'u-alice-2' });
      expect((await failure(post({ grant_type: 'refresh_token', refresh_token: refresh }))).code).to.equal('UNAUTHORIZED');
      directory.users.delete('alice');
      expect((await failure(post({ grant_type: 'refresh_token', refresh_token: refresh }))).code).to.equal('UNAUTHORIZED');
      expect((await failure(post({ grant_type: 'refresh_token', refresh_token: login.access_token }))).code).to.equal('UNAUTHORIZED');
      expect((await failure(post({ grant_type: 'refresh_token', refresh_token: `${refresh.slice(0, -4)}AAAA` }))).code).to.equal('UNAUTHORIZED');
      expect((await failure(post({ grant_type: 'refresh_token' }))).code).to.equal('INVALID_REQUEST');
    });

    it('refresh tokens expire', async () => {
      const login = await post({ grant_type: 'password', username: 'alice', password: PASSWORDS.alice });
      clock.advance(30 * 24 * 3600 + 60);
      const err = await failure(post({ grant_type: 'refresh_token', refresh_token: login.refresh_token as string }));
      expect(err.message).to.include('expired');
    });

    it('refuses unknown and missing grant types', async () => {
      const unsupported = await failure(post({ grant_type: 'authorization_code' }));
      expect(unsupported.code).to.equal('UNSUPPORTED_GRANT_TYPE');
      expect(unsupported.status).to.equal(400);
      expect((await failure(post({}))).code).to.equal('INVALID_REQUEST');
    });
  });
});

describe('auth/token-service: tokenErrorResponse', () => {
  it('gives both the Docker errors array and the OAuth2 error, with the right headers', () => {
    const unauthorized = tokenErrorResponse(new AuthError('UNAUTHORIZED', 'invalid username or password'), 'berth');
    expect(unauthorized).to.deep.equal({
      status: 401,
      headers: { 'WWW-Authenticate': 'Basic realm="berth",charset="UTF-8"' },
      body: {
        errors: [{ code: 'UNAUTHORIZED', message: 'invalid username or password' }],
        error: 'invalid_grant',
        error_description: 'invalid username or password',
      },
    });
    const limited = tokenErrorResponse(new AuthError('TOOMANYREQUESTS', 'too many failed login attempts', { retryAfterSeconds: 42 }), 'berth');
    expect(limited.status).to.equal(429);
    expect(limited.headers).to.deep.equal({ 'Retry-After': '42' });
    expect(limited.body.errors[0]?.code).to.equal('TOOMANYREQUESTS');
    const grant = tokenErrorResponse(new AuthError('UNSUPPORTED_GRANT_TYPE', 'no'), 'berth');
    expect(grant).to.deep.include({ status: 400, headers: {} });
    expect(grant.body.error).to.equal('unsupported_grant_type');
  });
});
