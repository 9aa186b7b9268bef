/**
 * Real clients log in to Berth with auth on, as a user and as a robot account, and work:
 * what is pulled is what was pushed. Each client gets its own credential files (so one
 * login never leaks into another client's test), under this run's directory.
 */
import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { testEnv } from '../env/test-env.ts';
import type { Backends, BerthProcess } from '../lib/berth.ts';
import { layoutBlob, makeOciLayout, type LayoutImage } from '../lib/images.ts';
import { run, type RunResult } from '../lib/run.ts';
import { basic, type Accounts, type AuthBerth, type Credentials } from './auth-berth.ts';

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** The registry's digest of a manifest, read with Basic credentials. */
async function manifestDigest(berth: BerthProcess, creds: Credentials, repository: string, tag: string): Promise<string> {
  const res = await fetch(`${berth.url}/v2/${repository}/manifests/${tag}`, {
    headers: {
      authorization: basic(creds),
      accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.index.v1+json',
    },
  });
  const body = Buffer.from(await res.arrayBuffer());
  expect(res.status, body.toString()).to.equal(200);
  expect(res.headers.get('docker-content-digest')).to.equal(sha256(body));
  return sha256(body);
}

export function clientScenarios(backends: Backends, state: () => { auth: AuthBerth; accounts: Accounts; dir: string }): void {
  describe('real clients with credentials', function () {
    let berth: BerthProcess;
    let accounts: Accounts;
    let admin: Credentials;
    let image: LayoutImage;
    let home: string;

    /** A client process with the run's environment and credential files of its own under `profile`. */
    const client = (tool: string, profile: string, args: string[], opts: { cwd?: string; allowFailure?: boolean; input?: string } = {}): Promise<RunResult> => {
      const base = join(home, profile);
      return run(tool, args, {
        ...opts,
        env: {
          ...testEnv().clients.env,
          REGISTRY_AUTH_FILE: join(base, 'containers-auth.json'),
          DOCKER_CONFIG: join(base, 'docker'),
          HELM_REGISTRY_CONFIG: join(base, 'helm-registry.json'),
        },
      });
    };
    const skopeo = (profile: string, args: string[], opts: { allowFailure?: boolean; input?: string } = {}) =>
      client(testEnv().tools.skopeo, profile, ['--insecure-policy', ...args], opts);
    const profile = async (name: string) => {
      await mkdir(join(home, name, 'docker'), { recursive: true });
      // podman insists that a configured auth file exists.
      await writeFile(join(home, name, 'containers-auth.json'), '{"auths":{}}');
      return name;
    };

    before(async function () {
      const s = state();
      berth = s.auth.berth;
      accounts = s.accounts;
      admin = s.auth.admin;
      home = join(s.dir, 'client-homes');
      image = await makeOciLayout(join(s.dir, 'layout'), 'v1', 2);
    });

    it('skopeo: --creds as a user, then skopeo login as a robot, push and pull byte for byte', async function () {
      const p = await profile('skopeo');
      const { developer, robot, project } = accounts;
      const userRef = `docker://${berth.host}/${project}/skopeo-user:v1`;
      await skopeo(p, ['copy', '--dest-tls-verify=false', '--dest-creds', `${developer.username}:${developer.password}`, `oci:${image.dir}:v1`, userRef]);
      expect(await manifestDigest(berth, admin, `${project}/skopeo-user`, 'v1')).to.equal(image.manifestDigest);

      // Without credentials the private project is closed.
      const anonymous = await skopeo(p, ['inspect', '--raw', '--tls-verify=false', userRef], { allowFailure: true });
      expect(anonymous.code).to.not.equal(0);
      expect(anonymous.stderr).to.match(/unauthorized|authentication required/i);

      await skopeo(p, ['login', '--tls-verify=false', '--username', robot.username, '--password-stdin', berth.host], { input: robot.password });
      const robotRef = `docker://${berth.host}/${project}/skopeo-robot:v1`;
      await skopeo(p, ['copy', '--dest-tls-verify=false', `oci:${image.dir}:v1`, robotRef]);
      const out = join(home, 'skopeo-out');
      await skopeo(p, ['copy', '--src-tls-verify=false', robotRef, `dir:${out}`]);
      expect(sha256(await readFile(join(out, 'manifest.json')))).to.equal(image.manifestDigest);
      for (const layer of image.layers) {
        expect((await readFile(join(out, layer.slice(7)))).equals(await layoutBlob(image.dir, layer)), layer).to.equal(true);
      }
    });

    it('podman: login as a user pushes, login as the robot pulls', async function () {
      const env = testEnv();
      const p = await profile('podman');
      const podman = (args: string[], opts: { input?: string; allowFailure?: boolean } = {}) => client(env.tools.podman, p, [...env.clients.podmanArgs, ...args], opts);
      const { developer, robot, project } = accounts;
      const rootfs = join(home, 'podman-rootfs');
      await mkdir(join(rootfs, 'etc'), { recursive: true });
      await writeFile(join(rootfs, 'etc', 'berth.txt'), randomBytes(2048));
      await run('tar', ['-cf', join(home, 'podman-rootfs.tar'), '-C', rootfs, '.']);
      await podman(['import', join(home, 'podman-rootfs.tar'), `localhost/berth-auth-${backends}:v1`]);
      const ref = `${berth.host}/${project}/podman:v1`;

      const refused = await podman(['push', '--tls-verify=false', `localhost/berth-auth-${backends}:v1`, ref], { allowFailure: true });
      expect(refused.code, 'anonymous push').to.not.equal(0);

      await podman(['login', '--tls-verify=false', '--username', developer.username, '--password-stdin', berth.host], { input: developer.password });
      await podman(['push', '--tls-verify=false', `localhost/berth-auth-${backends}:v1`, ref]);
      const pushed = await manifestDigest(berth, admin, `${project}/podman`, 'v1');
      await podman(['logout', berth.host]);
      await podman(['rmi', '-a', '-f']);

      await podman(['login', '--tls-verify=false', '--username', robot.username, '--password-stdin', berth.host], { input: robot.password });
      await podman(['pull', '--tls-verify=false', ref]);
      const inspect = JSON.parse((await podman(['image', 'inspect', ref])).stdout)[0];
      expect(inspect.Digest).to.equal(pushed);
    });

    it('ctr (containerd): --user as the robot pulls, --user as a user pushes', async function () {
      const env = testEnv();
      const ns = `${env.containerd.namespace}-auth-${backends}`;
      const ctr = (args: string[], opts: { allowFailure?: boolean } = {}) =>
        client(env.tools.ctr, 'ctr', ['--address', env.containerd.address, '--namespace', ns, ...args], opts);
      const { developer, robot, project } = accounts;
      await skopeo(await profile('ctr'), [
        'copy', '--dest-tls-verify=false', '--dest-creds', `${developer.username}:${developer.password}`, `oci:${image.dir}:v1`, `docker://${berth.host}/${project}/ctr-src:v1`,
      ]);
      const source = `${berth.host}/${project}/ctr-src:v1`;
      const anonymous = await ctr(['images', 'pull', '--plain-http', '--snapshotter', env.containerd.snapshotter, source], { allowFailure: true });
      expect(anonymous.code, 'anonymous pull of a private project').to.not.equal(0);
      await ctr(['images', 'pull', '--plain-http', '--user', `${robot.username}:${robot.password}`, '--snapshotter', env.containerd.snapshotter, source]);
      const target = `${berth.host}/${project}/ctr-pushed:v1`;
      await ctr(['images', 'tag', '--force', source, target]);
      await ctr(['images', 'push', '--plain-http', '--user', `${developer.username}:${developer.password}`, target]);
      expect(await manifestDigest(berth, admin, `${project}/ctr-pushed`, 'v1')).to.equal(image.manifestDigest);
    });

    it('oras: login as a user pushes an artifact, login as the robot pulls it', async function () {
      const env = testEnv();
      const p = await profile('oras');
      const work = join(home, 'oras');
      await mkdir(join(work, 'out'), { recursive: true });
      const payload = randomBytes(50_000);
      await writeFile(join(work, 'artifact.bin'), payload);
      const { developer, robot, project } = accounts;
      const ref = `${berth.host}/${project}/oras:v1`;
      const oras = (args: string[], opts: { input?: string; allowFailure?: boolean } = {}) => client(env.tools.oras, p, args, { cwd: work, ...opts });
      await oras(['login', '--plain-http', '-u', developer.username, '--password-stdin', berth.host], { input: developer.password });
      await oras(['push', '--plain-http', '--artifact-type', 'application/vnd.berth.test', ref, 'artifact.bin:application/octet-stream']);
      await oras(['logout', berth.host]);
      const anonymous = await oras(['pull', '--plain-http', '-o', join(work, 'out'), ref], { allowFailure: true });
      expect(anonymous.code, 'anonymous pull of a private project').to.not.equal(0);
      await oras(['login', '--plain-http', '-u', robot.username, '--password-stdin', berth.host], { input: robot.password });
      await oras(['pull', '--plain-http', '-o', join(work, 'out'), ref]);
      expect((await readFile(join(work, 'out', 'artifact.bin'))).equals(payload)).to.equal(true);
    });

    it('crane: auth login as the robot copies, lists and digests', async function () {
      const env = testEnv();
      const p = await profile('crane');
      const { robot, project } = accounts;
      const crane = (args: string[], opts: { input?: string; allowFailure?: boolean } = {}) => client(env.tools.crane, p, args, opts);
      const src = `${berth.host}/${project}/skopeo-user:v1`;
      const denied = await crane(['digest', '--insecure', src], { allowFailure: true });
      expect(denied.code, 'before login').to.not.equal(0);
      await crane(['auth', 'login', berth.host, '-u', robot.username, '--password-stdin'], { input: robot.password });
      await crane(['copy', '--insecure', src, `${berth.host}/${project}/crane:v2`]);
      const tags = (await crane(['ls', '--insecure', `${berth.host}/${project}/crane`])).stdout.trim().split('\n');
      expect(tags).to.deep.equal(['v2']);
      expect((await crane(['digest', '--insecure', `${berth.host}/${project}/crane:v2`])).stdout.trim()).to.equal(image.manifestDigest);
    });

    it('helm: registry login as a user pushes a chart, as the robot pulls it', async function () {
      const env = testEnv();
      const p = await profile('helm');
      const work = join(home, 'helm');
      const chart = join(work, 'berth-auth');
      await mkdir(join(chart, 'templates'), { recursive: true });
      await writeFile(join(chart, 'Chart.yaml'), 'apiVersion: v2\nname: berth-auth\nversion: 0.1.0\n');
      await writeFile(join(chart, 'templates', 'cm.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\n');
      await mkdir(join(work, 'pulled'), { recursive: true });
      const helm = (args: string[], opts: { input?: string; allowFailure?: boolean } = {}) => client(env.tools.helm, p, args, { cwd: work, ...opts });
      const { developer, robot, project } = accounts;
      await helm(['package', chart, '-d', join(work, 'pkg')]);
      const packaged = await readFile(join(work, 'pkg', 'berth-auth-0.1.0.tgz'));
      await helm(['registry', 'login', berth.host, '--plain-http', '--username', developer.username, '--password-stdin'], { input: developer.password });
      await helm(['push', join(work, 'pkg', 'berth-auth-0.1.0.tgz'), `oci://${berth.host}/${project}/charts`, '--plain-http']);
      await helm(['registry', 'logout', berth.host]);
      await helm(['registry', 'login', berth.host, '--plain-http', '--username', robot.username, '--password-stdin'], { input: robot.password });
      await helm(['pull', `oci://${berth.host}/${project}/charts/berth-auth`, '--version', '0.1.0', '--plain-http', '-d', join(work, 'pulled')]);
      expect((await readFile(join(work, 'pulled', 'berth-auth-0.1.0.tgz'))).equals(packaged)).to.equal(true);
    });

    it('anonymous: pulls from the public library project, is refused a push there and a pull from the private project', async function () {
      const p = await profile('anonymous');
      const publicRef = `docker://${berth.host}/library/public-image:v1`;
      await skopeo(p, ['copy', '--dest-tls-verify=false', '--dest-creds', `${admin.username}:${admin.password}`, `oci:${image.dir}:v1`, publicRef]);
      const out = join(home, 'anonymous-out');
      await skopeo(p, ['copy', '--src-tls-verify=false', publicRef, `dir:${out}`]);
      expect(sha256(await readFile(join(out, 'manifest.json')))).to.equal(image.manifestDigest);

      const push = await skopeo(p, ['copy', '--dest-tls-verify=false', `oci:${image.dir}:v1`, `docker://${berth.host}/library/anonymous-push:v1`], { allowFailure: true });
      expect(push.code, 'anonymous push').to.not.equal(0);
      expect(push.stderr).to.match(/unauthorized|authentication required/i);
      const tags = await fetch(`${berth.url}/v2/library/anonymous-push/tags/list`, { headers: { authorization: basic(admin) } });
      expect(tags.status, 'nothing was stored').to.equal(404);

      const privatePull = await skopeo(p, ['inspect', '--raw', '--tls-verify=false', `docker://${berth.host}/${accounts.project}/skopeo-user:v1`], { allowFailure: true });
      expect(privatePull.code, 'anonymous pull of a private project').to.not.equal(0);
      expect(privatePull.stderr).to.match(/unauthorized|authentication required/i);

      // A user pushing into a project that does not exist is told so.
      const noProject = await skopeo(p, [
        'copy', '--dest-tls-verify=false', '--dest-creds', `${admin.username}:${admin.password}`, `oci:${image.dir}:v1`, `docker://${berth.host}/no-such-project/app:v1`,
      ], { allowFailure: true });
      expect(noProject.code).to.not.equal(0);
      expect(noProject.stderr).to.include('project no-such-project does not exist');
    });
  });
}
