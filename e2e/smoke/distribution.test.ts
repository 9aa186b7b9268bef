import assert from 'node:assert/strict';
import { testEnv } from '../env/test-env.ts';

describe('smoke: CNCF Distribution (docker-registry) of this run', () => {
  it('serves /v2/ on loopback', async () => {
    const { url, host } = testEnv().distribution;
    assert.match(host, /^127\.0\.0\.1:\d+$/);
    const response = await fetch(`${url}/v2/`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('docker-distribution-api-version'), 'registry/2.0');
  });

  it('lists its catalog', async () => {
    const response = await fetch(`${testEnv().distribution.url}/v2/_catalog`);
    assert.equal(response.status, 200);
    assert.ok(Array.isArray(((await response.json()) as { repositories: unknown }).repositories));
  });
});
