import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { testEnv } from '../env/test-env.ts';
import { command } from './command.ts';

describe('smoke: the OCI conformance suite is built and runs', () => {
  it('the current suite (distribution-spec main) runs its ping test against docker-registry', async () => {
    const env = testEnv();
    const results = join(env.workDir, 'smoke-conformance');
    mkdirSync(results, { recursive: true });
    const { stdout } = await command(env.tools.conformance, [], {
      OCI_REGISTRY: env.distribution.host,
      OCI_TLS: 'disabled',
      OCI_REPO1: 'smoke-conformance/one',
      OCI_REPO2: 'smoke-conformance/two',
      OCI_FILTER_TEST: 'OCI Conformance Test/ping',
      OCI_RESULTS_DIR: results,
    });
    assert.match(stdout, /OCI Conformance Test\/ping: Pass/);
    assert.match(stdout, new RegExp(`registry: ${env.distribution.host.replace(/\./g, '\\.')}`));
    assert.ok(existsSync(join(results, 'results.yaml')), 'no results.yaml written');
  });
});
