import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { testEnv } from '../env/test-env.ts';
import { command } from './command.ts';

describe('smoke: registry clients are real programs', () => {
  it('skopeo prints its version', async () => {
    const { stdout } = await command(testEnv().tools.skopeo, ['--version']);
    assert.match(stdout, /^skopeo version \d+\.\d+/);
  });

  it('podman prints its version with the storage of this run', async () => {
    const { podmanArgs } = testEnv().clients;
    const { stdout } = await command(testEnv().tools.podman, [...podmanArgs, 'version', '--format', '{{.Client.Version}}']);
    assert.match(stdout.trim(), /^\d+\.\d+\.\d+/);
    const info = await command(testEnv().tools.podman, [...podmanArgs, 'info', '--format', '{{.Store.GraphDriverName}} {{.Store.GraphRoot}}']);
    const [driver, graphRoot] = info.stdout.trim().split(' ');
    assert.equal(driver, 'vfs');
    assert.ok(graphRoot?.startsWith(testEnv().workDir), `podman storage outside the run: ${graphRoot}`);
  });

  it('oras prints its version', async () => {
    const { stdout } = await command(testEnv().tools.oras, ['version']);
    assert.match(stdout, /Version:\s+1\.\d+\.\d+/);
  });

  it('crane prints its version', async () => {
    const { stdout } = await command(testEnv().tools.crane, ['version']);
    assert.match(stdout.trim(), /^v?0\.\d+\.\d+/);
  });

  it('helm prints its version', async () => {
    // Built with `go install`, helm reports its major.minor only (no release ldflags).
    const { stdout } = await command(testEnv().tools.helm, ['version', '--short']);
    assert.match(stdout.trim(), /^v3\.\d+/);
  });
});
