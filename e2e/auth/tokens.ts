/**
 * Forged and misused tokens against a real Berth with auth on: each forgery differs from a
 * token Berth would accept in one respect only (a forged token with every claim right is
 * accepted: the control that proves the others fail for the reason under test).
 */
import { expect } from 'chai';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import pg from 'pg';
import type { Backends, BerthProcess } from '../lib/berth.ts';
import {
  ISSUER,
  SERVICE,
  apiExpect,
  basic,
  claimsOf,
  createRobot,
  requestToken,
  signingMaterial,
  type Accounts,
  type AuthBerth,
  type Credentials,
  type SigningMaterial,
} from './auth-berth.ts';

interface Access {
  type: string;
  name: string;
  actions: string[];
}

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

function claims(access: Access[], overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: ISSUER,
    sub: 'forger',
    aud: SERVICE,
    iat: now,
    nbf: now,
    exp: now + 300,
    jti: randomBytes(16).toString('base64url'),
    access,
    ...overrides,
  };
}

async function sign(signing: SigningMaterial, payload: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: signing.kid, ...header }).sign(signing.privateKey);
}

async function v2(berth: BerthProcess, method: string, path: string, authorization?: string, body?: Buffer | string) {
  const res = await fetch(`${berth.url}${path}`, {
    method,
    headers: authorization ? { authorization } : {},
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : new Uint8Array(body) }),
  });
  const text = await res.text();
  let code: string | undefined;
  try {
    code = JSON.parse(text).errors?.[0]?.code;
  } catch {
    /* no body */
  }
  return { status: res.status, code, challenge: res.headers.get('www-authenticate') ?? '', text };
}

/** A one-layer image pushed with Basic credentials, so tags/list and pulls have something to answer. */
async function pushSmallImage(berth: BerthProcess, creds: Credentials, repository: string, tag: string): Promise<void> {
  const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
  const layer = randomBytes(256);
  for (const blob of [config, layer]) {
    const reply = await v2(berth, 'POST', `/v2/${repository}/blobs/uploads/?digest=${sha256(blob)}`, basic(creds), blob);
    expect(reply.status, reply.text).to.equal(201);
  }
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(layer), size: layer.length }],
  });
  const res = await fetch(`${berth.url}/v2/${repository}/manifests/${tag}`, {
    method: 'PUT',
    headers: { authorization: basic(creds), 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
    body: manifest,
  });
  expect(res.status, await res.text()).to.equal(201);
}

export function tokenScenarios(backends: Backends, state: () => { auth: AuthBerth; accounts: Accounts }): void {
  describe('forged and misused tokens', function () {
    let berth: BerthProcess;
    let repo: string;
    let pullTagsList: Access[];
    const tagsPath = () => `/v2/${repo}/tags/list`;

    before(async function () {
      const { auth, accounts } = state();
      berth = auth.berth;
      repo = `${accounts.project}/tokens`;
      pullTagsList = [{ type: 'repository', name: repo, actions: ['pull'] }];
      await pushSmallImage(berth, auth.admin, repo, 'v1');
    });

    async function expectInvalid(token: string, what: string) {
      const reply = await v2(berth, 'GET', tagsPath(), `Bearer ${token}`);
      expect(reply.status, `${what}: ${reply.text}`).to.equal(401);
      expect(reply.code, what).to.equal('UNAUTHORIZED');
      expect(reply.challenge, what).to.match(/^Bearer realm="http:\/\/127\.0\.0\.1:\d+\/service\/token"/);
      expect(reply.challenge, what).to.include('error="invalid_token"');
    }

    it('accepts a token with every claim right, signed by the configured key (the control)', async function () {
      const token = await sign(state().auth.signing, claims(pullTagsList));
      const reply = await v2(berth, 'GET', tagsPath(), `Bearer ${token}`);
      expect(reply.status, reply.text).to.equal(200);
      expect(JSON.parse(reply.text).tags).to.deep.equal(['v1']);
    });

    it('refuses alg "none", HS256 keyed with the public key, another key, expired, not yet valid, another audience or issuer', async function () {
      const signing = state().auth.signing;
      const good = claims(pullTagsList);
      await expectInvalid(`${b64({ alg: 'none', typ: 'JWT', kid: signing.kid })}.${b64(good)}.`, 'alg none');
      await expectInvalid(`${b64({ alg: 'none', typ: 'JWT' })}.${b64(good)}.`, 'alg none without kid');

      const publicPem = signing.privateKey.export({ type: 'pkcs8', format: 'pem' });
      const hmac = await new SignJWT(good)
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: signing.kid })
        .sign(new TextEncoder().encode(String(publicPem)));
      await expectInvalid(hmac, 'HS256');

      const other = await signingMaterial();
      await expectInvalid(await sign(other, good), 'another key under its own kid');
      await expectInvalid(await sign(other, good, { kid: signing.kid }), 'another key under the trusted kid');
      const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
      await expectInvalid(
        await new SignJWT(good).setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: signing.kid }).sign(rsa),
        'RS256 under the ES256 kid',
      );

      const now = Math.floor(Date.now() / 1000);
      await expectInvalid(await sign(signing, claims(pullTagsList, { iat: now - 900, nbf: now - 900, exp: now - 300 })), 'expired');
      await expectInvalid(await sign(signing, claims(pullTagsList, { iat: now + 600, nbf: now + 600, exp: now + 900 })), 'not yet valid');
      await expectInvalid(await sign(signing, claims(pullTagsList, { aud: 'another-registry' })), 'another audience');
      await expectInvalid(await sign(signing, claims(pullTagsList, { iss: 'someone-else' })), 'another issuer');
      // A payload changed after signing.
      const genuine = await sign(signing, claims(pullTagsList));
      const [h, , s] = genuine.split('.');
      const widened = claims([{ type: 'repository', name: repo, actions: ['pull', 'push', 'delete'] }]);
      await expectInvalid(`${h}.${b64(widened)}.${s}`, 'payload altered');
    });

    it('refuses a pull token for a push, and a token for repository A on repository B', async function () {
      const { accounts } = state();
      const issued = await requestToken(berth, accounts.developer, [`repository:${repo}:pull`]);
      expect(issued.status, JSON.stringify(issued.body)).to.equal(200);
      const token = issued.body.token as string;
      state().auth.secrets.add(token);
      expect(issued.body.access_token).to.equal(token);

      const pull = await v2(berth, 'GET', tagsPath(), `Bearer ${token}`);
      expect(pull.status, pull.text).to.equal(200);

      const push = await v2(berth, 'POST', `/v2/${repo}/blobs/uploads/`, `Bearer ${token}`);
      expect(push.status, push.text).to.equal(401);
      expect(push.code).to.equal('UNAUTHORIZED');
      expect(push.challenge).to.include('error="insufficient_scope"');
      expect(push.challenge).to.include(`scope="repository:${repo}:pull,push"`);

      const elsewhere = await v2(berth, 'GET', `/v2/${accounts.project}/another/tags/list`, `Bearer ${token}`);
      expect(elsewhere.status, elsewhere.text).to.equal(401);
      expect(elsewhere.challenge).to.include('error="insufficient_scope"');

      // A forged token for A, correctly signed, opens nothing on B either.
      const forged = await sign(state().auth.signing, claims(pullTagsList));
      const forgedElsewhere = await v2(berth, 'GET', `/v2/${accounts.project}/another/tags/list`, `Bearer ${forged}`);
      expect(forgedElsewhere.status).to.equal(401);
    });

    it('drops what the caller may not have from a token request (scope escalation) instead of granting it', async function () {
      const { accounts, auth } = state();
      const asked = [`repository:${repo}:pull,push,delete`, 'repository:library/anything:push', 'registry:catalog:*', `repository:${accounts.project}/x:*`];
      const developer = await requestToken(berth, accounts.developer, asked);
      expect(developer.status).to.equal(200);
      auth.secrets.add(developer.body.token);
      const granted = claimsOf(developer.body.token).access as Access[];
      expect(granted).to.deep.include({ type: 'repository', name: repo, actions: ['pull', 'push'] });
      expect(granted.find((a) => a.name === 'library/anything')?.actions ?? []).to.not.include('push');
      expect(granted.find((a) => a.type === 'registry')?.actions ?? []).to.deep.equal([]);
      expect(granted.find((a) => a.name === `${accounts.project}/x`)?.actions ?? []).to.not.include('delete');

      const outsider = await requestToken(berth, accounts.outsider, [`repository:${repo}:pull,push`]);
      expect(outsider.status).to.equal(200);
      auth.secrets.add(outsider.body.token);
      const outsiderAccess = (claimsOf(outsider.body.token).access as Access[]).flatMap((a) => a.actions);
      expect(outsiderAccess).to.deep.equal([]);
      const refused = await v2(berth, 'GET', tagsPath(), `Bearer ${outsider.body.token}`);
      expect(refused.status).to.equal(401);

      const anonymous = await requestToken(berth, undefined, [`repository:${repo}:pull`]);
      expect(anonymous.status).to.equal(200);
      expect((claimsOf(anonymous.body.token).access as Access[]).flatMap((a) => a.actions)).to.deep.equal([]);

      // The developer's token works for what it holds, not for the delete it asked for.
      const deleteReply = await v2(berth, 'DELETE', `/v2/${repo}/manifests/v1`, `Bearer ${developer.body.token}`);
      expect(deleteReply.status).to.equal(401);
      expect(deleteReply.challenge).to.include('error="insufficient_scope"');
    });

    it('refuses a wrong password, an unknown service and a disabled robot at the token endpoint', async function () {
      const { accounts, auth } = state();
      const wrong = await requestToken(berth, { username: accounts.developer.username, password: 'not-the-password' }, [`repository:${repo}:pull`]);
      expect(wrong.status).to.equal(401);
      const unknownService = await requestToken(berth, accounts.developer, [`repository:${repo}:pull`], 'another-registry');
      expect(unknownService.status).to.equal(400);

      const robot = await createRobot(auth, accounts.project, 'soon-disabled');
      const before = await requestToken(berth, robot, [`repository:${repo}:pull`]);
      expect(before.status, JSON.stringify(before.body)).to.equal(200);
      auth.secrets.add(before.body.token);
      await apiExpect(berth, auth.admin, 200, 'PUT', `/robots/${robot.id}`, { disable: true });
      const after = await requestToken(berth, robot, [`repository:${repo}:pull`]);
      expect(after.status, JSON.stringify(after.body)).to.equal(401);
      const basicAfter = await v2(berth, 'GET', tagsPath(), basic(robot));
      expect(basicAfter.status).to.equal(401);
    });

    // Only on Postgres: with the embedded backends the registry process owns the PGlite directory.
    if (backends === 'production') it('refuses an expired robot (its expiry moved into the past in the database)', async function () {
      const { accounts, auth } = state();
      const production = berth.production!;
      const robot = await createRobot(auth, accounts.project, 'expiring');
      const issued = await requestToken(berth, robot, [`repository:${repo}:pull`]);
      expect(issued.status).to.equal(200);
      auth.secrets.add(issued.body.token);
      const db = new pg.Client({ connectionString: production.databaseUrl });
      await db.connect();
      try {
        const updated = await db.query(`UPDATE robots SET expires_at = now() - interval '1 hour' WHERE name = $1`, [robot.username]);
        expect(updated.rowCount).to.equal(1);
      } finally {
        await db.end();
      }
      const refused = await requestToken(berth, robot, [`repository:${repo}:pull`]);
      expect(refused.status, JSON.stringify(refused.body)).to.equal(401);
      const basicRefused = await v2(berth, 'GET', tagsPath(), basic(robot));
      expect(basicRefused.status).to.equal(401);
    });
  });
}
