import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { testEnv } from '../env/test-env.ts';
import { command } from './command.ts';

/**
 * The parts work together: crane pushes an image to the run's docker-registry, skopeo
 * inspects it, the containerd daemon pulls and unpacks it with the chosen snapshotter, and
 * pushes it back through a hosts.toml directory.
 */
describe('smoke: an image round trip through docker-registry', () => {
  it('crane pushes, skopeo inspects, ctr pulls, unpacks and pushes back', async () => {
    const env = testEnv();
    const work = join(env.workDir, 'smoke-roundtrip');
    mkdirSync(join(work, 'rootfs'), { recursive: true });
    writeFileSync(join(work, 'rootfs', 'hello.txt'), `hello from ${work}\n`);
    await command('tar', ['-C', join(work, 'rootfs'), '-cf', join(work, 'layer.tar'), '.']);
    const image = `${env.distribution.host}/smoke/roundtrip:v1`;

    await command(env.tools.crane, ['append', '--insecure', '--oci-empty-base', '-f', join(work, 'layer.tar'), '-t', image]);
    const digest = (await command(env.tools.crane, ['digest', '--insecure', image])).stdout.trim();
    assert.match(digest, /^sha256:[0-9a-f]{64}$/);

    const inspected = JSON.parse((await command(env.tools.skopeo, ['inspect', '--tls-verify=false', `docker://${image}`])).stdout) as {
      Digest: string;
      Layers: string[];
    };
    assert.equal(inspected.Digest, digest);
    assert.equal(inspected.Layers.length, 1);

    const { address, namespace, snapshotter } = env.containerd;
    const ctr = (...args: string[]) => command(env.tools.ctr, ['--address', address, '--namespace', namespace, ...args]);
    await ctr('images', 'pull', '--plain-http', '--snapshotter', snapshotter, image);
    const listed = (await ctr('images', 'list')).stdout;
    assert.ok(listed.includes(image) && listed.includes(digest), `ctr images list:\n${listed}`);
    const checked = (await ctr('images', 'check', '--snapshotter', snapshotter)).stdout;
    assert.match(checked.split('\n').find((l) => l.includes(image)) ?? '', /complete.*true/);

    // ctr pushes back under a new tag, configured through a hosts.toml directory (the
    // file format node trust writes) instead of --plain-http.
    const hostsDir = join(work, 'certs.d');
    const registry = `http://${env.distribution.host}`;
    mkdirSync(join(hostsDir, env.distribution.host), { recursive: true });
    writeFileSync(
      join(hostsDir, env.distribution.host, 'hosts.toml'),
      `server = "${registry}"\n\n[host."${registry}"]\n  capabilities = ["pull", "resolve", "push"]\n`,
    );
    const copy = `${env.distribution.host}/smoke/roundtrip:v2`;
    await ctr('images', 'tag', image, copy);
    await ctr('images', 'push', '--hosts-dir', hostsDir, copy);
    assert.equal((await command(env.tools.crane, ['digest', '--insecure', copy])).stdout.trim(), digest);
    await ctr('images', 'remove', '--sync', image, copy);
  });
});
