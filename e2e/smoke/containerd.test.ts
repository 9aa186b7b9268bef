import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { testEnv } from '../env/test-env.ts';
import { command } from './command.ts';

describe('smoke: containerd daemon of this run', () => {
  it('answers ctr on its own socket with client and server versions', async () => {
    const { address, namespace } = testEnv().containerd;
    assert.ok(existsSync(address), `no socket at ${address}`);
    const { stdout } = await command(testEnv().tools.ctr, ['--address', address, 'version']);
    assert.match(stdout, /Client:[\s\S]*Version:[\s\S]*Server:[\s\S]*Version:\s+\S+/);
    // The daemon has a namespace API: create and list one.
    await command(testEnv().tools.ctr, ['--address', address, 'namespaces', 'create', namespace]).catch((err: Error) => {
      if (!/already exists/.test(err.message)) throw err;
    });
    const namespaces = await command(testEnv().tools.ctr, ['--address', address, 'namespaces', 'list', '-q']);
    assert.ok(namespaces.stdout.split('\n').includes(namespace));
  });

  it('has the snapshotter the environment chose', async () => {
    const { address, snapshotter } = testEnv().containerd;
    const { stdout } = await command(testEnv().tools.ctr, ['--address', address, 'plugins', 'ls']);
    const line = stdout.split('\n').find((l) => l.includes('io.containerd.snapshotter.v1') && l.includes(` ${snapshotter} `));
    assert.ok(line, `snapshotter ${snapshotter} not listed:\n${stdout}`);
    assert.match(line, /\sok\s*$/);
  });
});
