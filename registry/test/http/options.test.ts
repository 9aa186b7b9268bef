/** RegistryOptions: external URL in Location and Link headers, the manifest size limit. */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { makeEmbeddedRegistry } from './embedded-backends.ts';
import type { RegistryUnderTest } from './registry-suite.ts';
import { V2Client, digestOf, errorCode, imageManifest } from './registry-client.ts';

describe('registry /v2 HTTP: options', function () {
  let registry: RegistryUnderTest;
  let client: V2Client;

  before(async function () {
    registry = await makeEmbeddedRegistry({ externalURL: 'https://registry.example.com:8443/', maxManifestBytes: 1000 });
    client = new V2Client(registry.url);
  });
  after(async function () {
    await registry?.close();
  });

  it('writes absolute Locations and Links under the external URL', async function () {
    const post = await client.request('POST', '/v2/ext/repo/blobs/uploads/');
    expect(post.headers.get('location')).to.match(/^https:\/\/registry\.example\.com:8443\/v2\/ext\/repo\/blobs\/uploads\/[0-9a-f-]+$/);
    const data = randomBytes(10);
    const put = await client.request('PUT', `${new URL(post.headers.get('location')!).pathname}?digest=${digestOf(data)}`, { body: data });
    expect(put.headers.get('location')).to.equal(`https://registry.example.com:8443/v2/ext/repo/blobs/${digestOf(data)}`);
    const configDigest = await client.pushBlob('ext/repo', Buffer.from('{}'));
    const manifest = imageManifest({ mediaType: 'application/vnd.oci.empty.v1+json', digest: configDigest, size: 2 }, []);
    for (const tag of ['a', 'b']) expect((await client.putManifest('ext/repo', tag, manifest)).status).to.equal(201);
    const page = await client.request('GET', '/v2/ext/repo/tags/list?n=1');
    expect(page.headers.get('link')).to.equal('<https://registry.example.com:8443/v2/ext/repo/tags/list?n=1&last=a>; rel="next"');
  });

  it('enforces the configured manifest size limit with 413', async function () {
    const configDigest = await client.pushBlob('ext/limit', Buffer.from('{}'));
    const small = imageManifest({ mediaType: 'application/vnd.oci.empty.v1+json', digest: configDigest, size: 2 }, []);
    expect((await client.putManifest('ext/limit', 'small', small)).status).to.equal(201);
    const big = imageManifest({ mediaType: 'application/vnd.oci.empty.v1+json', digest: configDigest, size: 2 }, [], { annotations: { x: 'y'.repeat(1000) } });
    const reply = await client.putManifest('ext/limit', 'big', big);
    expect(reply.status).to.equal(413);
    expect(errorCode(reply)).to.equal('SIZE_INVALID');
  });
});
