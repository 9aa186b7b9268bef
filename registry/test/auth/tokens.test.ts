import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt, decodeProtectedHeader, exportJWK, SignJWT } from 'jose';
import { AuthError } from '../../src/auth/errors.ts';
import {
  generateSigningKey,
  KeyLoadError,
  loadSigningKeyFile,
  loadVerificationKeyFiles,
  parseSigningKey,
  parseVerificationKeys,
  toJwks,
  verificationKeyOf,
  type SigningKey,
} from '../../src/auth/keys.ts';
import { parseScope } from '../../src/auth/scope.ts';
import { accessCovers, TokenIssuer, TokenVerifier } from '../../src/auth/tokens.ts';
import { TestClock } from './fakes.ts';

const ISSUER = 'berth-token-issuer';
const SERVICE = 'registry.example';

async function rejects(promise: Promise<unknown>, messagePart: string): Promise<void> {
  let error: unknown;
  try {
    await promise;
  } catch (err) {
    error = err;
  }
  expect(error, 'expected a rejection').to.be.instanceOf(AuthError);
  expect((error as AuthError).code).to.equal('UNAUTHORIZED');
  expect((error as AuthError).message).to.include(messagePart);
}

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

describe('auth/tokens: TokenIssuer and TokenVerifier', () => {
  let clock: TestClock;
  let keyA: SigningKey;
  let keyB: SigningKey;
  let issuer: TokenIssuer;
  let verifier: TokenVerifier;

  before(async () => {
    keyA = await generateSigningKey('ES256');
    keyB = await generateSigningKey('RS256');
  });

  beforeEach(() => {
    clock = new TestClock();
    issuer = new TokenIssuer({ issuer: ISSUER, signingKey: keyA, now: clock.now });
    verifier = new TokenVerifier({ issuer: ISSUER, audience: SERVICE, keys: [verificationKeyOf(keyA)], now: clock.now });
  });

  it('issues a Docker-spec token with every claim and verifies it', async () => {
    const issued = await issuer.issueAccessToken({ subject: 'alice', audience: SERVICE, access: [parseScope('repository:team/app:pull,push')] });
    expect(issued.expiresIn).to.equal(300);
    expect(issued.issuedAt.toISOString()).to.equal(clock.now().toISOString());
    const header = decodeProtectedHeader(issued.token);
    expect(header).to.deep.equal({ alg: 'ES256', typ: 'JWT', kid: keyA.kid });
    const claims = await verifier.verifyAccessToken(issued.token);
    const iat = clock.now().getTime() / 1000;
    expect(claims).to.include({ iss: ISSUER, sub: 'alice', aud: SERVICE, iat, nbf: iat, exp: iat + 300 });
    expect(claims.jti).to.match(/^[A-Za-z0-9_-]{16,}$/);
    expect(claims.access).to.deep.equal([{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }]);
  });

  it('gives every token its own jti', async () => {
    const a = await issuer.issueAccessToken({ subject: 's', audience: SERVICE, access: [] });
    const b = await issuer.issueAccessToken({ subject: 's', audience: SERVICE, access: [] });
    expect(decodeJwt(a.token).jti).to.not.equal(decodeJwt(b.token).jti);
  });

  it('signs and verifies RS256 too', async () => {
    const rsIssuer = new TokenIssuer({ issuer: ISSUER, signingKey: keyB, now: clock.now });
    const rsVerifier = new TokenVerifier({ issuer: ISSUER, audience: SERVICE, keys: [verificationKeyOf(keyB)], now: clock.now });
    const { token } = await rsIssuer.issueAccessToken({ subject: 'bob', audience: SERVICE, access: [] });
    expect(decodeProtectedHeader(token).alg).to.equal('RS256');
    expect((await rsVerifier.verifyAccessToken(token)).sub).to.equal('bob');
  });

  it('refuses a lifetime under a minute', () => {
    expect(() => new TokenIssuer({ issuer: ISSUER, signingKey: keyA, accessTtlSeconds: 30 })).to.throw(RangeError);
  });

  describe('forged and misused tokens are refused', () => {
    it('alg: none', async () => {
      const iat = clock.now().getTime() / 1000;
      const payload = { iss: ISSUER, sub: 'alice', aud: SERVICE, iat, nbf: iat, exp: iat + 300, jti: 'x', access: [] };
      await rejects(verifier.verifyAccessToken(`${b64({ alg: 'none', typ: 'JWT', kid: keyA.kid })}.${b64(payload)}.`), 'invalid token');
      await rejects(verifier.verifyAccessToken(`${b64({ alg: 'none', typ: 'JWT' })}.${b64(payload)}.`), 'invalid token');
    });

    it('a token signed by another key (unknown kid)', async () => {
      const other = await generateSigningKey('ES256');
      const forger = new TokenIssuer({ issuer: ISSUER, signingKey: other, now: clock.now });
      const { token } = await forger.issueAccessToken({ subject: 'alice', audience: SERVICE, access: [] });
      await rejects(verifier.verifyAccessToken(token), 'unknown key');
    });

    it('a token signed by another key claiming a trusted kid', async () => {
      const other = await generateSigningKey('ES256', keyA.kid);
      const forger = new TokenIssuer({ issuer: ISSUER, signingKey: other, now: clock.now });
      const { token } = await forger.issueAccessToken({ subject: 'alice', audience: SERVICE, access: [] });
      await rejects(verifier.verifyAccessToken(token), 'bad signature');
    });

    it('HS256 signed with the public key as a secret (algorithm confusion)', async () => {
      const secret = new TextEncoder().encode(JSON.stringify(await exportJWK(keyA.publicKey)));
      const iat = clock.now().getTime() / 1000;
      const token = await new SignJWT({ access: [] })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: keyA.kid })
        .setIssuer(ISSUER).setSubject('alice').setAudience(SERVICE).setIssuedAt(iat).setNotBefore(iat).setExpirationTime(iat + 300).setJti('j')
        .sign(secret);
      await rejects(verifier.verifyAccessToken(token), 'invalid token');
    });

    it('expired', async () => {
      const { token } = await issuer.issueAccessToken({ subject: 'alice', audience: SERVICE, access: [] });
      clock.advance(300 + 11);
      await rejects(verifier.verifyAccessToken(token), 'expired');
    });

    it('still valid just before expiry', async () => {
      const { token } = await issuer.issueAccessToken({ subject: 'alice', audience: SERVICE, access: [] });
      clock.advance(299);
      expect((await verifier.verifyAccessToken(token)).sub).to.equal('alice');
    });

    it('not yet valid', async () => {
      const future = new TestClock(clock.now().getTime() + 3600_000);
      const early = new TokenIssuer({ issuer: ISSUER, signingKey: keyA, now: future.now });
      const { token } = await early.issueAccessToken({ subject: 'alice', audience: SERVICE, access: [] });
      await rejects(verifier.verifyAccessToken(token), 'not yet valid');
    });

    it('issued for another service (aud)', async () => {
      const { token } = await issuer.issueAccessToken({ subject: 'alice', audience: 'other.example', access: [] });
      await rejects(verifier.verifyAccessToken(token), 'another service');
    });

    it('from another issuer', async () => {
      const stranger = new TokenIssuer({ issuer: 'someone-else', signingKey: keyA, now: clock.now });
      const { token } = await stranger.issueAccessToken({ subject: 'alice', audience: SERVICE, access: [] });
      await rejects(verifier.verifyAccessToken(token), 'unknown issuer');
    });

    it('with a tampered payload (pull widened to push)', async () => {
      const { token } = await issuer.issueAccessToken({ subject: 'alice', audience: SERVICE, access: [parseScope('repository:team/app:pull')] });
      const [header, payload, signature] = token.split('.') as [string, string, string];
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as { access: Array<{ actions: string[] }> };
      (claims.access[0] as { actions: string[] }).actions = ['pull', 'push'];
      await rejects(verifier.verifyAccessToken(`${header}.${b64(claims)}.${signature}`), 'bad signature');
    });

    it('garbage', async () => {
      await rejects(verifier.verifyAccessToken('not-a-jwt'), 'invalid token');
      await rejects(verifier.verifyAccessToken(''), 'invalid token');
    });

    it('a refresh token used as an access token, and the reverse', async () => {
      const refresh = await issuer.issueRefreshToken({ subject: 'alice', principal: 'user', uid: 'u1' });
      await rejects(verifier.verifyAccessToken(refresh.token), 'invalid token');
      const access = await issuer.issueAccessToken({ subject: 'alice', audience: SERVICE, access: [] });
      await rejects(verifier.verifyRefreshToken(access.token), 'invalid refresh token');
      expect(await verifier.verifyRefreshToken(refresh.token)).to.include({ sub: 'alice', principal: 'user', uid: 'u1' });
    });

    it('a malformed access claim', async () => {
      const iat = clock.now().getTime() / 1000;
      const token = await new SignJWT({ access: [{ type: 'repository', name: 'x/y', actions: 'pull' }] })
        .setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: keyA.kid })
        .setIssuer(ISSUER).setSubject('alice').setAudience(SERVICE).setIssuedAt(iat).setNotBefore(iat).setExpirationTime(iat + 300).setJti('j')
        .sign(keyA.privateKey);
      await rejects(verifier.verifyAccessToken(token), 'malformed access claim');
    });
  });

  describe('key rotation', () => {
    it('verifies tokens from every active key, and stops trusting a retired one', async () => {
      const both = new TokenVerifier({ issuer: ISSUER, audience: SERVICE, keys: [verificationKeyOf(keyA), verificationKeyOf(keyB)], now: clock.now });
      const fromA = await issuer.issueAccessToken({ subject: 'a', audience: SERVICE, access: [] });
      issuer.rotate(keyB);
      expect(issuer.keyId).to.equal(keyB.kid);
      const fromB = await issuer.issueAccessToken({ subject: 'b', audience: SERVICE, access: [] });
      expect(decodeProtectedHeader(fromB.token).kid).to.equal(keyB.kid);
      expect((await both.verifyAccessToken(fromA.token)).sub).to.equal('a');
      expect((await both.verifyAccessToken(fromB.token)).sub).to.equal('b');
      both.replaceKeys([verificationKeyOf(keyB)]);
      await rejects(both.verifyAccessToken(fromA.token), 'unknown key');
      expect((await both.verifyAccessToken(fromB.token)).sub).to.equal('b');
    });

    it('refuses two keys with one kid', () => {
      expect(() => new TokenVerifier({ issuer: ISSUER, audience: SERVICE, keys: [verificationKeyOf(keyA), verificationKeyOf(keyA)] })).to.throw(/kid/);
    });
  });
});

describe('auth/tokens: accessCovers', () => {
  const access = [
    { type: 'repository', name: 'team/app', actions: ['pull'] },
    { type: 'repository', name: 'team/app', actions: ['push'] },
    { type: 'repository', name: 'team/all', actions: ['*'] },
    { type: 'registry', name: 'catalog', actions: ['*'] },
  ];
  it('covers what the token holds', () => {
    expect(accessCovers(access, [parseScope('repository:team/app:pull,push')])).to.equal(true);
    expect(accessCovers(access, [parseScope('repository:team/all:delete')])).to.equal(true);
    expect(accessCovers(access, [parseScope('registry:catalog:*')])).to.equal(true);
    expect(accessCovers(access, [])).to.equal(true);
  });
  it('a pull token is not a push token, and repository A is not repository B', () => {
    expect(accessCovers(access, [parseScope('repository:team/app:delete')])).to.equal(false);
    expect(accessCovers([{ type: 'repository', name: 'team/a', actions: ['pull'] }], [parseScope('repository:team/a:push')])).to.equal(false);
    expect(accessCovers([{ type: 'repository', name: 'team/a', actions: ['pull'] }], [parseScope('repository:team/b:pull')])).to.equal(false);
    expect(accessCovers(access, [parseScope('repository(plugin):team/app:pull')])).to.equal(false);
  });
});

describe('auth/keys: loading signing and verification keys', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-keys-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads PKCS#8, SEC1 and PKCS#1 PEM private keys with the right algorithm and a stable kid', async () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pkcs8 = await parseSigningKey(ec.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string);
    const sec1 = await parseSigningKey(ec.privateKey.export({ format: 'pem', type: 'sec1' }) as string);
    const pkcs1 = await parseSigningKey(rsa.privateKey.export({ format: 'pem', type: 'pkcs1' }) as string);
    expect(pkcs8.alg).to.equal('ES256');
    expect(sec1.kid).to.equal(pkcs8.kid);
    expect(pkcs1.alg).to.equal('RS256');
    const [fromPublic] = await parseVerificationKeys(ec.publicKey.export({ format: 'pem', type: 'spki' }) as string);
    expect(fromPublic?.kid).to.equal(pkcs8.kid);
  });

  it('loads a JWK signing key keeping its kid, and verification keys from a JWK Set', async () => {
    const key = await generateSigningKey('ES256');
    const jwk = { ...(await exportJWK(key.privateKey)), kid: 'key-2026-11' };
    const path = join(dir, 'signing.jwk');
    await writeFile(path, JSON.stringify(jwk));
    const loaded = await loadSigningKeyFile(path);
    expect(loaded.kid).to.equal('key-2026-11');
    const jwksPath = join(dir, 'keys.jwks');
    const other = await generateSigningKey('RS256');
    await writeFile(jwksPath, JSON.stringify(await toJwks([verificationKeyOf(loaded), verificationKeyOf(other)])));
    const keys = await loadVerificationKeyFiles([jwksPath]);
    expect(keys.map((k) => [k.kid, k.alg])).to.deep.equal([['key-2026-11', 'ES256'], [other.kid, 'RS256']]);
    // A token signed with the loaded key verifies with the keys read back.
    const issuer = new TokenIssuer({ issuer: ISSUER, signingKey: loaded });
    const verifier = new TokenVerifier({ issuer: ISSUER, audience: SERVICE, keys });
    const { token } = await issuer.issueAccessToken({ subject: 'x', audience: SERVICE, access: [] });
    expect((await verifier.verifyAccessToken(token)).sub).to.equal('x');
  });

  it('reads several PEM blocks, certificates included', async () => {
    // A real certificate, as an operator would mount one (openssl is part of the base system).
    const keyPath = join(dir, 'cert.key');
    const certPath = join(dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '1', '-subj', '/CN=berth token signer'], { stdio: 'pipe' });
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = `${readFileSync(certPath, 'utf8')}\n${rsa.publicKey.export({ format: 'pem', type: 'spki' }) as string}`;
    const loaded = await parseVerificationKeys(pem);
    expect(loaded.map((k) => k.alg)).to.deep.equal(['ES256', 'RS256']);
    // The certificate's key and the private key file name the same kid.
    expect(loaded[0]?.kid).to.equal((await loadSigningKeyFile(keyPath)).kid);
  });

  it('refuses weak or unsupported keys and never echoes key material', async () => {
    const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const ed = generateKeyPairSync('ed25519');
    for (const [pem, why] of [
      [rsa1024.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, '2048'],
      [p384.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, 'P-256'],
      [ed.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, 'unsupported'],
    ] as const) {
      let error: unknown;
      try {
        await parseSigningKey(pem, 'test key');
      } catch (err) {
        error = err;
      }
      expect(error).to.be.instanceOf(KeyLoadError);
      expect((error as Error).message).to.include(why);
    }
    const garbage = '-----BEGIN PRIVATE KEY-----\nc2VjcmV0LXN0dWZm\n-----END PRIVATE KEY-----';
    let error: unknown;
    try {
      await parseSigningKey(garbage, 'conf/token.key');
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(KeyLoadError);
    expect((error as Error).message).to.equal('conf/token.key: not a PEM or JWK private key');
    let missing: unknown;
    try {
      await loadSigningKeyFile(join(dir, 'absent.pem'));
    } catch (err) {
      missing = err;
    }
    expect(missing).to.be.instanceOf(KeyLoadError);
  });

  it('rejects a JWK whose declared alg does not match the key', async () => {
    const key = await generateSigningKey('ES256');
    const jwk = { ...(await exportJWK(key.privateKey)), alg: 'RS256' };
    let error: unknown;
    try {
      await parseSigningKey(JSON.stringify(jwk));
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(KeyLoadError);
  });
});
