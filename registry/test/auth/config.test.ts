import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { exportJWK } from 'jose';
import { authConfigProblems, AuthSchema, createAuth, TOKEN_PATH, type AuthConfig } from '../../src/auth/config.ts';
import { generateSigningKey, toJwks, verificationKeyOf } from '../../src/auth/keys.ts';
import { TokenIssuer } from '../../src/auth/tokens.ts';
import { SECRET_KEYWORD } from '../../src/config/secret.ts';
import { FakeCache, FakeDirectory, TestClock } from './fakes.ts';

function defaults(input: unknown = {}): AuthConfig {
  const value = Value.Default(AuthSchema, structuredClone(input));
  expect(Value.Check(AuthSchema, value), [...Value.Errors(AuthSchema, value)].map((e) => `${e.path} ${e.message}`).join('; ')).to.equal(true);
  return value as AuthConfig;
}

describe('auth/config: the auth section and createAuth', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-auth-config-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('fills defaults: disabled, 5-minute tokens, OWASP argon2id, rate limits', () => {
    const config = defaults();
    expect(config).to.deep.include({
      enabled: false,
      service: 'berth-registry',
      issuer: 'berth-token-issuer',
      verificationKeyFiles: [],
      accessTokenTtlSeconds: 300,
      refreshTokenTtlSeconds: 2592000,
      projectCreation: 'everyone',
    });
    expect(config.admin).to.deep.equal({ username: 'admin' });
    expect(config.loginRateLimit).to.deep.equal({ maxFailuresPerUser: 10, maxFailuresPerAddress: 100, windowSeconds: 300 });
    expect(config.passwordHash).to.deep.equal({ memoryKiB: 19456, passes: 2, rememberVerifiedSeconds: 60 });
  });

  it('rejects unknown keys and out-of-range values; marks the admin password secret', () => {
    for (const bad of [{ nope: 1 }, { accessTokenTtlSeconds: 30 }, { admin: { password: 'short' } }, { projectCreation: 'nobody' }, { loginRateLimit: { extra: 1 } }]) {
      const value = Value.Default(AuthSchema, structuredClone(bad));
      expect(Value.Check(AuthSchema, value), JSON.stringify(bad)).to.equal(false);
    }
    expect((AuthSchema.properties.admin.properties.password as unknown as Record<string, unknown>)[SECRET_KEYWORD]).to.equal('value');
  });

  it('needs http.externalURL when enabled', () => {
    expect(authConfigProblems(defaults({ enabled: true }), undefined)).to.deep.equal([
      { path: 'http.externalURL', message: 'required when auth.enabled (the token realm is <externalURL>/service/token)' },
    ]);
    expect(authConfigProblems(defaults({ enabled: true }), 'https://r.example')).to.deep.equal([]);
    expect(authConfigProblems(defaults(), undefined)).to.deep.equal([]);
  });

  it('loads the operator layout: signing.key plus a verification.jwks holding it and the next key', async () => {
    const signing = await generateSigningKey('ES256');
    const next = await generateSigningKey('ES256');
    const signingFile = join(dir, 'signing.key');
    const jwksFile = join(dir, 'verification.jwks');
    await writeFile(signingFile, signing.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string);
    await writeFile(jwksFile, JSON.stringify(await toJwks([verificationKeyOf(signing), verificationKeyOf(next)])));
    const clock = new TestClock();
    const directory = new FakeDirectory();
    directory.projects.set('library', { name: 'library', public: true });
    const config = defaults({ enabled: true, service: 'reg.example', signingKeyFile: signingFile, verificationKeyFiles: [jwksFile], passwordHash: { memoryKiB: 1024, passes: 1 } });
    const auth = await createAuth(config, { cache: new FakeCache(clock), identities: directory, projects: directory, externalURL: 'https://reg.example/', now: clock.now });
    expect(auth.ephemeralSigningKey).to.equal(false);
    expect(auth.signingKeyId).to.equal(signing.kid);
    expect(auth.verifier.keyIds.sort()).to.deep.equal([signing.kid, next.kid].sort());

    const body = await auth.tokens.handle({ method: 'GET', params: { service: 'reg.example', scope: 'repository:library/app:pull' }, clientAddress: '192.0.2.1' });
    const decision = await auth.access.authorize({ method: 'GET', headers: { authorization: `Bearer ${body.token}` } }, [{ type: 'repository', name: 'library/app', actions: ['pull'] }]);
    expect(decision).to.deep.equal({ ok: true });
    // After the operator switches signing to the next key, its tokens verify too.
    const fromNext = await new TokenIssuer({ issuer: config.issuer, signingKey: next, now: clock.now }).issueAccessToken({
      subject: 'x',
      audience: 'reg.example',
      access: [],
    });
    expect((await auth.verifier.verifyAccessToken(fromNext.token)).sub).to.equal('x');
    const challenge = await auth.access.authorize({ method: 'GET', headers: {} }, []);
    expect(challenge).to.include({ challenge: 'Bearer realm="https://reg.example/service/token",service="reg.example"' });
    expect(TOKEN_PATH).to.equal('/service/token');
  });

  it('generates an ephemeral key when none is configured', async () => {
    const clock = new TestClock();
    const directory = new FakeDirectory();
    const auth = await createAuth(defaults({ passwordHash: { memoryKiB: 1024, passes: 1 } }), {
      cache: new FakeCache(clock),
      identities: directory,
      projects: directory,
      externalURL: 'http://127.0.0.1:5000',
    });
    expect(auth.ephemeralSigningKey).to.equal(true);
    const { token } = await auth.issuer.issueAccessToken({ subject: 's', audience: 'berth-registry', access: [] });
    expect((await auth.verifier.verifyAccessToken(token)).sub).to.equal('s');
  });

  it('refuses two different keys under one kid', async () => {
    const signing = await generateSigningKey('ES256');
    const impostor = await generateSigningKey('ES256');
    const signingFile = join(dir, 'signing-2.key');
    const jwksFile = join(dir, 'impostor.jwks');
    await writeFile(signingFile, signing.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string);
    await writeFile(jwksFile, JSON.stringify({ keys: [{ ...(await exportJWK(impostor.publicKey)), kid: signing.kid }] }));
    const directory = new FakeDirectory();
    let error: unknown;
    try {
      await createAuth(defaults({ signingKeyFile: signingFile, verificationKeyFiles: [jwksFile] }), {
        cache: new FakeCache(new TestClock()),
        identities: directory,
        projects: directory,
        externalURL: 'http://x',
      });
    } catch (err) {
      error = err;
    }
    expect((error as Error | undefined)?.message).to.include('share kid');
  });
});
