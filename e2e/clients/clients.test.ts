/**
 * Real clients against Berth on both backend sets: what is pulled is byte-identical to what
 * was pushed. Each scenario is a function reused for every backend.
 */
import { expect } from 'chai';
import { mkdir, readFile, writeFile, readdir } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { existsSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { testEnv } from '../env/test-env.ts';
import { startBerth, type Backends, type BerthProcess } from '../lib/berth.ts';
import { makeOciLayout, layoutBlob, type LayoutImage } from '../lib/images.ts';
import { run } from '../lib/run.ts';

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function registryManifest(berth: BerthProcess, repo: string, ref: string): Promise<{ digest: string; body: Buffer }> {
  const res = await fetch(`${berth.url}/v2/${repo}/manifests/${ref}`, {
    headers: {
      accept: [
        'application/vnd.oci.image.manifest.v1+json',
        'application/vnd.oci.image.index.v1+json',
        'application/vnd.docker.distribution.manifest.v2+json',
        'application/vnd.docker.distribution.manifest.list.v2+json',
      ].join(', '),
    },
  });
  const body = Buffer.from(await res.arrayBuffer());
  expect(res.status, body.toString()).to.equal(200);
  const digest = res.headers.get('docker-content-digest');
  expect(digest).to.equal(sha256(body));
  return { digest: digest!, body };
}

async function registryBlob(berth: BerthProcess, repo: string, digest: string): Promise<Buffer> {
  const res = await fetch(`${berth.url}/v2/${repo}/blobs/${digest}`);
  const body = Buffer.from(await res.arrayBuffer());
  expect(res.status).to.equal(200);
  return body;
}

/** Runs a client with the run's client environment (credentials, caches, homes in the run directory). */
function client(tool: string, args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) {
  return run(tool, args, { cwd: opts.cwd, env: { ...testEnv().clients.env, ...(opts.env ?? {}) } });
}

function skopeo(...args: string[]) {
  return client(testEnv().tools.skopeo, ['--insecure-policy', ...args]);
}

for (const backends of ['embedded', 'production'] as Backends[]) {
  describe(`real clients on the ${backends} backends`, function () {
    this.timeout(10 * 60_000);
    let berth: BerthProcess;
    let dir: string;
    let image: LayoutImage;

    before(async () => {
      dir = join(testEnv().workDir, `clients-${backends}`);
      await mkdir(dir, { recursive: true });
      berth = await startBerth({ backends, dir: join(dir, 'berth') });
      image = await makeOciLayout(join(dir, 'layout'), 'v1', 3);
    });
    after(async () => {
      await berth?.stop();
    });

    it('skopeo copies a multi-layer image in OCI format and back, byte for byte', async () => {
      await skopeo('copy', '--dest-tls-verify=false', `oci:${image.dir}:v1`, `docker://${berth.host}/library/skopeo-oci:v1`);
      const stored = await registryManifest(berth, 'library/skopeo-oci', 'v1');
      expect(stored.digest).to.equal(image.manifestDigest);
      const out = join(dir, 'skopeo-oci-out');
      await skopeo('copy', '--src-tls-verify=false', `docker://${berth.host}/library/skopeo-oci:v1`, `dir:${out}`);
      expect(sha256(await readFile(join(out, 'manifest.json')))).to.equal(image.manifestDigest);
      for (const layer of image.layers) {
        const pulled = await readFile(join(out, layer.slice(7)));
        expect(pulled.equals(await layoutBlob(image.dir, layer)), `layer ${layer}`).to.equal(true);
      }
    });

    it('skopeo copies the image in Docker schema 2 format and back, byte for byte', async () => {
      await skopeo('copy', '--format', 'v2s2', '--dest-tls-verify=false', `oci:${image.dir}:v1`, `docker://${berth.host}/library/skopeo-docker:v1`);
      const stored = await registryManifest(berth, 'library/skopeo-docker', 'v1');
      const manifest = JSON.parse(stored.body.toString());
      expect(manifest.mediaType).to.equal('application/vnd.docker.distribution.manifest.v2+json');
      const out = join(dir, 'skopeo-docker-out');
      await skopeo('copy', '--src-tls-verify=false', `docker://${berth.host}/library/skopeo-docker:v1`, `dir:${out}`);
      expect((await readFile(join(out, 'manifest.json'))).equals(stored.body)).to.equal(true);
      for (const layer of manifest.layers as Array<{ digest: string }>) {
        const pulled = await readFile(join(out, layer.digest.slice(7)));
        expect(pulled.equals(await registryBlob(berth, 'library/skopeo-docker', layer.digest))).to.equal(true);
        expect(pulled.equals(await layoutBlob(image.dir, layer.digest))).to.equal(true);
      }
    });

    it('podman pushes and pulls an image with real tar layers', async () => {
      const env = testEnv();
      const podman = (...args: string[]) => client(env.tools.podman, [...env.clients.podmanArgs, ...args]);
      // podman insists that a configured auth file exists, even for anonymous pushes
      const authFile = env.clients.env.REGISTRY_AUTH_FILE;
      if (authFile && !existsSync(authFile)) {
        await mkdir(dirname(authFile), { recursive: true });
        await writeFile(authFile, '{"auths":{}}');
      }
      const rootfs = join(dir, 'podman-rootfs');
      await mkdir(join(rootfs, 'etc'), { recursive: true });
      await writeFile(join(rootfs, 'etc', 'berth.txt'), randomBytes(4096));
      await run('tar', ['-cf', join(dir, 'podman-rootfs.tar'), '-C', rootfs, '.']);
      await podman('import', join(dir, 'podman-rootfs.tar'), 'localhost/berth-podman:v1');
      const ref = `${berth.host}/library/podman:v1`;
      await podman('push', '--tls-verify=false', 'localhost/berth-podman:v1', ref);
      const stored = await registryManifest(berth, 'library/podman', 'v1');
      await podman('rmi', '-a', '-f');
      await podman('pull', '--tls-verify=false', ref);
      const inspect = JSON.parse((await podman('image', 'inspect', ref)).stdout)[0];
      expect(inspect.Digest).to.equal(stored.digest);
      const saved = join(dir, 'podman-saved');
      await podman('save', '--format', 'oci-dir', '-o', saved, ref);
      const manifest = JSON.parse(stored.body.toString());
      for (const layer of manifest.layers as Array<{ digest: string }>) {
        const registryBytes = await registryBlob(berth, 'library/podman', layer.digest);
        expect(sha256(registryBytes)).to.equal(layer.digest);
      }
      expect((await readdir(join(saved, 'blobs', 'sha256'))).length).to.be.greaterThan(1);
    });

    it('ctr pulls and pushes through a real containerd daemon', async () => {
      const env = testEnv();
      const ns = `${env.containerd.namespace}-${backends}`;
      const ctr = (...args: string[]) => client(env.tools.ctr, ['--address', env.containerd.address, '--namespace', ns, ...args]);
      await skopeo('copy', '--dest-tls-verify=false', `oci:${image.dir}:v1`, `docker://${berth.host}/library/ctr-src:v1`);
      const source = `${berth.host}/library/ctr-src:v1`;
      await ctr('images', 'pull', '--plain-http', '--snapshotter', env.containerd.snapshotter, source);
      for (const layer of image.layers) {
        const file = join(dir, `ctr-${layer.slice(7, 19)}`);
        await run('bash', ['-c', 'exec "$0" --address "$1" --namespace "$2" content get "$3" > "$4"', env.tools.ctr, env.containerd.address, ns, layer, file]);
        expect((await readFile(file)).equals(await layoutBlob(image.dir, layer)), `layer ${layer} in containerd`).to.equal(true);
      }
      const target = `${berth.host}/library/ctr-pushed:v1`;
      await ctr('images', 'tag', source, target);
      await ctr('images', 'push', '--plain-http', target);
      const pushed = await registryManifest(berth, 'library/ctr-pushed', 'v1');
      expect(pushed.digest).to.equal(image.manifestDigest);
      for (const layer of image.layers) {
        expect((await registryBlob(berth, 'library/ctr-pushed', layer)).equals(await layoutBlob(image.dir, layer))).to.equal(true);
      }
    });

    it('oras pushes and pulls an artifact, attaches a referrer and discovers it', async () => {
      const env = testEnv();
      const work = join(dir, 'oras');
      await mkdir(join(work, 'out'), { recursive: true });
      const payload = randomBytes(200_000);
      await writeFile(join(work, 'artifact.bin'), payload);
      const ref = `${berth.host}/library/oras-artifact:v1`;
      await client(env.tools.oras, ['push', '--plain-http', '--artifact-type', 'application/vnd.berth.test', ref, 'artifact.bin:application/octet-stream'], { cwd: work });
      await client(env.tools.oras, ['pull', '--plain-http', '-o', join(work, 'out'), ref], { cwd: work });
      expect((await readFile(join(work, 'out', 'artifact.bin'))).equals(payload)).to.equal(true);
      await writeFile(join(work, 'signature.json'), JSON.stringify({ signed: true }));
      await client(env.tools.oras, ['attach', '--plain-http', '--artifact-type', 'application/vnd.berth.signature', ref, 'signature.json:application/json'], { cwd: work });
      const discovered = JSON.parse((await client(env.tools.oras, ['discover', '--plain-http', '--format', 'json', ref])).stdout);
      const referrers: Array<{ artifactType: string }> = discovered.referrers ?? discovered.manifests ?? [];
      expect(referrers.map((r) => r.artifactType)).to.include('application/vnd.berth.signature');
    });

    it('crane copies, lists and digests', async () => {
      const env = testEnv();
      await skopeo('copy', '--dest-tls-verify=false', `oci:${image.dir}:v1`, `docker://${berth.host}/library/crane-src:v1`);
      await client(env.tools.crane, ['copy', '--insecure', `${berth.host}/library/crane-src:v1`, `${berth.host}/library/crane-dst:v2`]);
      const tags = (await client(env.tools.crane, ['ls', '--insecure', `${berth.host}/library/crane-dst`])).stdout.trim().split('\n');
      expect(tags).to.deep.equal(['v2']);
      const digest = (await client(env.tools.crane, ['digest', '--insecure', `${berth.host}/library/crane-dst:v2`])).stdout.trim();
      expect(digest).to.equal(image.manifestDigest);
    });

    it('helm pushes and pulls an OCI chart', async () => {
      const env = testEnv();
      const work = join(dir, 'helm');
      const chart = join(work, 'berth-demo');
      await mkdir(join(chart, 'templates'), { recursive: true });
      await writeFile(join(chart, 'Chart.yaml'), 'apiVersion: v2\nname: berth-demo\nversion: 0.1.0\n');
      await writeFile(join(chart, 'templates', 'cm.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\n');
      await mkdir(join(work, 'pulled'), { recursive: true });
      const helm = (...args: string[]) => client(env.tools.helm, args, { cwd: work });
      await helm('package', chart, '-d', join(work, 'pkg'));
      const packaged = await readFile(join(work, 'pkg', 'berth-demo-0.1.0.tgz'));
      await helm('push', join(work, 'pkg', 'berth-demo-0.1.0.tgz'), `oci://${berth.host}/charts`, '--plain-http');
      await helm('pull', `oci://${berth.host}/charts/berth-demo`, '--version', '0.1.0', '--plain-http', '-d', join(work, 'pulled'));
      expect((await readFile(join(work, 'pulled', 'berth-demo-0.1.0.tgz'))).equals(packaged)).to.equal(true);
    });
  });
}
