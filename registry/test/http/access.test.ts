/** The access seam: every route asks the AccessController for what its table entry declares. */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import type { AccessController, AccessRequest } from '../../src/http/access.ts';
import { makeEmbeddedRegistry } from './embedded-backends.ts';
import type { RegistryUnderTest } from './registry-suite.ts';
import { V2Client, digestOf, errorCode } from './registry-client.ts';

/** Records what was asked; refuses pull on repositories under "private/" and anything anonymous on "locked/". */
class RecordingAccess implements AccessController {
  readonly asked: AccessRequest[][] = [];
  async authorize(request: { headers: Record<string, string | string[] | undefined> }, asked: AccessRequest[]) {
    this.asked.push(asked);
    // Optional requests only go into a challenge's scope; they decide nothing.
    const wanted = asked.filter((w) => !w.optional);
    if (wanted.some((w) => w.name.startsWith('locked/')) && !request.headers.authorization) {
      return { ok: false as const, status: 401 as const, code: 'UNAUTHORIZED' as const, message: 'authentication required', challenge: 'Bearer realm="http://auth.example/token",service="berth"' };
    }
    if (wanted.some((w) => w.name.startsWith('gone/'))) {
      return { ok: false as const, status: 401 as const, code: 'UNAUTHORIZED' as const, message: 'project "gone" does not exist', challenge: 'Bearer realm="http://auth.example/token",service="berth",error="insufficient_scope"' };
    }
    if (wanted.some((w) => w.name.startsWith('private/'))) {
      return { ok: false as const, status: 403 as const, code: 'DENIED' as const, message: 'denied' };
    }
    return { ok: true as const, subject: 'tester' };
  }
}

describe('registry /v2 HTTP: access seam', function () {
  let registry: RegistryUnderTest;
  let client: V2Client;
  const access = new RecordingAccess();

  before(async function () {
    registry = await makeEmbeddedRegistry({ access });
    client = new V2Client(registry.url);
  });
  after(async function () {
    await registry?.close();
  });

  it('declares the scope of each route', async function () {
    const digest = digestOf('x');
    const cases: Array<[string, string, AccessRequest[]]> = [
      ['GET', '/v2/', []],
      ['GET', '/v2/_catalog', [{ type: 'registry', name: 'catalog', actions: ['*'] }]],
      ['GET', '/v2/a/b/manifests/latest', [{ type: 'repository', name: 'a/b', actions: ['pull'] }]],
      ['HEAD', `/v2/a/blobs/${digest}`, [{ type: 'repository', name: 'a', actions: ['pull'] }]],
      ['PUT', '/v2/a/manifests/latest', [{ type: 'repository', name: 'a', actions: ['pull', 'push'] }]],
      ['DELETE', `/v2/a/manifests/${digest}`, [{ type: 'repository', name: 'a', actions: ['delete'] }]],
      ['DELETE', `/v2/a/blobs/${digest}`, [{ type: 'repository', name: 'a', actions: ['delete'] }]],
      ['POST', '/v2/a/blobs/uploads/', [{ type: 'repository', name: 'a', actions: ['pull', 'push'] }]],
      [
        'POST',
        `/v2/a/blobs/uploads/?mount=${digest}&from=src/repo`,
        [
          { type: 'repository', name: 'a', actions: ['pull', 'push'] },
          { type: 'repository', name: 'src/repo', actions: ['pull'], optional: true },
        ],
      ],
      ['GET', '/v2/a/tags/list', [{ type: 'repository', name: 'a', actions: ['pull'] }]],
      ['GET', `/v2/a/referrers/${digest}`, [{ type: 'repository', name: 'a', actions: ['pull'] }]],
    ];
    for (const [method, path, wanted] of cases) {
      access.asked.length = 0;
      await client.request(method, path, method === 'PUT' ? { body: '{}' } : {});
      expect(access.asked[0], `${method} ${path}`).to.deep.equal(wanted);
    }
  });

  it('answers a refusal with 401 and the challenge, or 403 DENIED, before touching anything', async function () {
    const unauthorized = await client.request('GET', '/v2/locked/repo/tags/list');
    expect(unauthorized.status).to.equal(401);
    expect(errorCode(unauthorized)).to.equal('UNAUTHORIZED');
    expect(unauthorized.headers.get('www-authenticate')).to.equal('Bearer realm="http://auth.example/token",service="berth"');
    const denied = await client.request('POST', `/v2/private/repo/blobs/uploads/?digest=${digestOf('abc')}`, { body: 'abc' });
    expect(denied.status).to.equal(403);
    expect(errorCode(denied)).to.equal('DENIED');
    expect(await registry.storage.list('blobs')).to.deep.equal([]);
  });

  it('falls back to an upload session when pull on the mount source is refused', async function () {
    const secret = randomBytes(100);
    // Pushed directly into storage and metadata through an allowed repository first.
    const digest = await client.pushBlob('open/source', secret);
    access.asked.length = 0;
    const refused = await client.request('POST', `/v2/open/target/blobs/uploads/?mount=${digest}&from=private/source`);
    expect(refused.status).to.equal(202);
    expect(access.asked).to.deep.include([{ type: 'repository', name: 'private/source', actions: ['pull'] }]);
    const allowed = await client.request('POST', `/v2/open/target/blobs/uploads/?mount=${digest}&from=open/source`);
    expect(allowed.status).to.equal(201);
  });

  it('under access control, a mount without from opens an upload session (a digest alone opens no blob)', async function () {
    const digest = await client.pushBlob('open/elsewhere', randomBytes(64));
    const reply = await client.request('POST', `/v2/open/guesser/blobs/uploads/?mount=${digest}`);
    expect(reply.status).to.equal(202);
    expect(reply.headers.get('docker-upload-uuid')).to.be.a('string');
    const blob = await client.request('HEAD', `/v2/open/guesser/blobs/${digest}`);
    expect(blob.status).to.equal(404);
  });

  it('puts the reason of a Bearer error into error_description, where HEAD answers (no body) still show it', async function () {
    const reply = await client.request('HEAD', `/v2/gone/app/blobs/${digestOf('x')}`);
    expect(reply.status).to.equal(401);
    expect(reply.headers.get('www-authenticate')).to.equal(
      `Bearer realm="http://auth.example/token",service="berth",error="insufficient_scope",error_description="project 'gone' does not exist"`,
    );
  });
});
