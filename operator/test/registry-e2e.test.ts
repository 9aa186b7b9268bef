/**
 * End to end: the operator reconciles a Registry on the real kube-apiserver; the test then
 * runs the registry process as its Pod would (the ConfigMap, the Secrets and the TLS material
 * the operator produced, at the Pod's mount paths moved under a directory, and the
 * Deployment's environment resolved from the Secrets), reports the Deployment available as the
 * kubelet would, and checks that:
 * - the Registry reports Ready;
 * - the node-trust files the DaemonSet's writer produces for a node are enough for real
 *   clients to push and pull over TLS with verification on: skopeo and podman --cert-dir (containers
 *   certs.d) and ctr --hosts-dir (containerd hosts.toml) against a real containerd daemon;
 * - without them, verification fails;
 * - Projects become projects through the registry's management API: the generated pull
 *   secret (dockerconfigjson) and CA alone pull from the project, another project's pull
 *   secret is refused, drift made through the API is reverted, pull robots rotate without a
 *   gap, and deleting a Project removes its pull secrets and the project.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';
import { AppsV1Api, CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import type { KubeConfig, V1Secret } from '@kubernetes/client-node';
import { testEnv } from '../../e2e/env/test-env.ts';
import { makeOciLayout } from '../../e2e/lib/images.ts';
import { freePort } from '../../e2e/lib/net.ts';
import { run } from '../../e2e/lib/run.ts';
import { Operator } from '../src/operator.ts';
import type { Registry } from '../src/crds/registry.ts';
import type { NodeTrustConfig } from '../src/registry/render.ts';
import { syncNodeTrust } from '../src/node-trust/writer.ts';
import { HttpManagementApi } from '../src/project/management-api.ts';
import type { Project } from '../src/crds/project.ts';
import { setHeaderOptions } from '@kubernetes/client-node';
import { createNamespace, markDeploymentAvailable, setUpCluster, testLogger, waitFor } from './support/kube.ts';

const decode = (s: V1Secret, key: string) => Buffer.from(s.data![key]!, 'base64').toString('utf8');

function httpsStatus(url: string, ca: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('Registry end to end: operator output runs the registry; node-trust files let real clients verify TLS', function () {
  this.timeout(300_000);
  let kc: KubeConfig;
  let ns: string;
  let operator: Operator;
  let registryProcess: ChildProcess | undefined;
  let output = '';
  let dir: string;
  let port: number;
  let host: string;
  let creds: string;
  let caBundle: string;
  let nodeRoot: string;

  before(async () => {
    const env = testEnv();
    if (!env.containerd?.address) throw new Error('testEnv().containerd is missing: start the tests with npm test (BERTH_SERVICES must include containerd)');
    kc = await setUpCluster();
    ns = await createNamespace(kc, 'registry-e2e');
    dir = join(env.workDir, ns);
    nodeRoot = join(dir, 'node');
    port = await freePort();
    host = `localhost:${port}`;
    operator = new Operator({
      kc,
      logger: testLogger(),
      identity: 'e2e',
      leaseNamespace: ns,
      leaseName: 'e2e',
      leaseDurationSeconds: 3,
      leaseRetryMs: 300,
      resyncMs: 2000,
      operatorImage: 'berth-operator:test',
      // The registry runs on this host, not behind its Service: reach it where it listens.
      managementApi: (reg, admin) => new HttpManagementApi({ baseURL: `https://${host}`, ...admin, ca: reg.status?.caBundle }),
    });
    await operator.start();
  });

  after(async () => {
    await operator?.stop();
    if (registryProcess && registryProcess.exitCode === null) {
      registryProcess.kill('SIGTERM');
      await new Promise((r) => registryProcess!.once('exit', r));
    }
  });

  it('the operator produces everything the registry Pod needs, and the registry serves TLS with it', async () => {
    const custom = kc.makeApiClient(CustomObjectsApi);
    await custom.createNamespacedCustomObject({
      group: 'berth.dev',
      version: 'v1alpha1',
      plural: 'registries',
      namespace: ns,
      body: {
        apiVersion: 'berth.dev/v1alpha1',
        kind: 'Registry',
        metadata: { name: 'e2e' },
        spec: { host: 'localhost', port, tls: { extraNames: ['127.0.0.1'] }, nodeTrust: { enabled: true, containers: true } },
      },
    });
    const core = kc.makeApiClient(CoreV1Api);
    const apps = kc.makeApiClient(AppsV1Api);
    const deployment = await waitFor('Deployment', () => apps.readNamespacedDeployment({ name: 'e2e', namespace: ns }));
    const pod = deployment.spec!.template.spec!;
    const container = pod.containers[0]!;

    // Mount every volume of the Pod under dir, as the kubelet would.
    const podPath = (p: string) => join(dir, p);
    for (const mount of container.volumeMounts!) {
      const volume = pod.volumes!.find((v) => v.name === mount.name)!;
      const target = podPath(mount.mountPath);
      await mkdir(target, { recursive: true });
      if (volume.configMap) {
        const cm = await core.readNamespacedConfigMap({ name: volume.configMap.name!, namespace: ns });
        for (const [k, v] of Object.entries(cm.data ?? {})) await writeFile(join(target, k), v.replaceAll('/etc/berth/', podPath('/etc/berth/')).replaceAll('/var/lib/berth', podPath('/var/lib/berth')));
      } else if (volume.secret) {
        const s = await core.readNamespacedSecret({ name: volume.secret.secretName!, namespace: ns });
        const items = volume.secret.items ?? Object.keys(s.data ?? {}).map((key) => ({ key, path: key }));
        for (const item of items) {
          await mkdir(join(target, item.path, '..'), { recursive: true });
          await writeFile(join(target, item.path), decode(s, item.key));
        }
      }
    }
    const env: Record<string, string> = { BERTH_HTTP_ADDRESS: '127.0.0.1', BERTH_HTTP_PORT: String(port) };
    // As the kubelet does: a value as it is (NODE_OPTIONS), a secretKeyRef from its Secret.
    for (const e of container.env ?? []) {
      const ref = e.valueFrom?.secretKeyRef;
      env[e.name] = ref ? decode(await core.readNamespacedSecret({ name: ref.name!, namespace: ns }), ref.key) : e.value!;
    }
    const admin = await core.readNamespacedSecret({ name: 'e2e-admin', namespace: ns });
    creds = `${decode(admin, 'username')}:${decode(admin, 'password')}`;

    registryProcess = spawn(process.execPath, ['--import', 'tsx', 'registry/src/main.ts', ...container.args!.map((a) => (a.startsWith('/etc/berth') ? podPath(a) : a))], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    registryProcess.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    registryProcess.stderr!.on('data', (d: Buffer) => (output += d.toString()));

    const reg = await waitFor('status.caBundle', async () => {
      const r = (await custom.getNamespacedCustomObject({ group: 'berth.dev', version: 'v1alpha1', plural: 'registries', namespace: ns, name: 'e2e' })) as Registry;
      return r.status?.caBundle ? r : undefined;
    });
    caBundle = reg.status!.caBundle!;
    const status = await waitFor(`the registry to serve https://${host}/v2/`, async () => {
      if (registryProcess!.exitCode !== null) throw new Error(`registry exited: ${output}`);
      return httpsStatus(`https://${host}/v2/`, caBundle).catch(() => undefined);
    }, 60_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${output}`);
    });
    assert.ok([200, 401].includes(status), `GET /v2/ answered ${status}`);

    await markDeploymentAvailable(kc, ns, 'e2e');
    await waitFor('Ready', async () => {
      const r = (await custom.getNamespacedCustomObject({ group: 'berth.dev', version: 'v1alpha1', plural: 'registries', namespace: ns, name: 'e2e' })) as Registry;
      return r.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
    });
  });

  it('the node-trust files alone let skopeo, podman (--cert-dir) and ctr (--hosts-dir, real containerd) push and pull with TLS verification on', async () => {
    const env = testEnv();
    const core = kc.makeApiClient(CoreV1Api);
    const cm = await core.readNamespacedConfigMap({ name: 'e2e-node-trust', namespace: ns });
    const trust = JSON.parse(cm.data!['trust.json']!) as NodeTrustConfig;
    assert.equal(trust.caBundle, caBundle);
    await syncNodeTrust(nodeRoot, trust);
    const containersDir = join(nodeRoot, 'etc/containers/certs.d', host);
    const containerdDir = join(nodeRoot, 'etc/containerd/certs.d');

    const image = await makeOciLayout(join(dir, 'image'), 'v1', 2);
    const skopeo = (...args: string[]) => run(env.tools.skopeo, ['--insecure-policy', ...args], { env: env.clients.env });
    const ref = `docker://${host}/library/trusted:v1`;
    // No trust files: verification fails (proves verification is on).
    const refused = await run(env.tools.skopeo, ['--insecure-policy', 'copy', '--dest-creds', creds, `oci:${image.dir}:v1`, ref], { env: env.clients.env, allowFailure: true });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /certificate|x509|unknown authority/i);

    await skopeo('copy', '--dest-cert-dir', containersDir, '--dest-creds', creds, `oci:${image.dir}:v1`, ref);
    const inspected = await skopeo('inspect', '--cert-dir', containersDir, '--creds', creds, '--raw', ref);
    assert.equal(JSON.parse(inspected.stdout).layers.length, 2);

    const ctrNs = `trust-${port}`;
    const ctr = (...args: string[]) => run(env.tools.ctr, ['--address', env.containerd.address, '--namespace', ctrNs, ...args], { env: env.clients.env });
    await ctr('images', 'pull', '--hosts-dir', containerdDir, '--user', creds, `${host}/library/trusted:v1`);
    const listed = await ctr('images', 'ls', '-q');
    assert.match(listed.stdout, new RegExp(`${host}/library/trusted:v1`));

    // podman reads the same containers certs.d layout.
    const podman = (...args: string[]) => run(env.tools.podman, [...env.clients.podmanArgs, ...args], { env: env.clients.env });
    const authFile = env.clients.env.REGISTRY_AUTH_FILE;
    if (authFile && !existsSync(authFile)) {
      await mkdir(dirname(authFile), { recursive: true });
      await writeFile(authFile, '{"auths":{}}');
    }
    await podman('pull', '--cert-dir', containersDir, '--creds', creds, `${host}/library/trusted:v1`);
    const inspect = JSON.parse((await podman('image', 'inspect', `${host}/library/trusted:v1`)).stdout)[0];
    assert.match(inspect.Digest, /^sha256:/);
  });

  it('Projects: members and robots through the management API, pull secrets per namespace that pull (and only their project), drift reverted, rotation, deletion', async () => {
    const env = testEnv();
    const core = kc.makeApiClient(CoreV1Api);
    const custom = kc.makeApiClient(CustomObjectsApi);
    const projects = { group: 'berth.dev', version: 'v1alpha1', plural: 'projects', namespace: ns };
    const getProject = (name: string) => custom.getNamespacedCustomObject({ ...projects, name }) as Promise<Project>;
    const ready = (name: string) =>
      waitFor(`Project ${name} Ready`, async () => {
        const p = await getProject(name);
        return p.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' && p.status.observedGeneration === p.metadata.generation ? p : undefined;
      }, 60_000);
    const [username, password] = [creds.slice(0, creds.indexOf(':')), creds.slice(creds.indexOf(':') + 1)];
    const api = new HttpManagementApi({ baseURL: `https://${host}`, username, password, ca: caBundle });
    const adminCall = async (method: string, path: string, body?: unknown) => {
      const res = await new Promise<number>((resolve, reject) => {
        const req = request(`https://${host}/api/v2.0${path}`, { method, ca: caBundle, headers: { authorization: `Basic ${Buffer.from(creds).toString('base64')}`, 'content-type': 'application/json' } }, (r) => {
          r.resume();
          resolve(r.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end(body === undefined ? undefined : JSON.stringify(body));
      });
      return res;
    };
    assert.equal(await adminCall('POST', '/users', { username: 'alice', password: 'Alice-password-1' }), 201);

    const nsA = await createNamespace(kc, 'team-a');
    const nsB = await createNamespace(kc, 'team-b');
    const nsC = await createNamespace(kc, 'team-c');
    // No controller-manager: make the default ServiceAccounts it would make.
    for (const n of [nsA, nsB]) await core.createNamespacedServiceAccount({ namespace: n, body: { metadata: { name: 'default' } } });
    const createProject = (name: string, spec: Record<string, unknown>) =>
      custom.createNamespacedCustomObject({ ...projects, body: { apiVersion: 'berth.dev/v1alpha1', kind: 'Project', metadata: { name }, spec } });
    await createProject('apps', {
      registryRef: { name: 'e2e' },
      members: [{ name: 'alice', role: 'developer' }],
      robots: [{ name: 'ci', permissions: [{ resource: 'repository', action: 'push' }, { resource: 'repository', action: 'pull' }] }],
      pullSecrets: { namespaces: [nsA, nsB], serviceAccounts: ['default'] },
    });
    await createProject('other', { registryRef: { name: 'e2e' }, pullSecrets: { namespaces: [nsC] } });
    const apps = await ready('apps');
    await ready('other');
    assert.deepEqual(apps.status!.pullSecretNamespaces, [nsA, nsB].sort());
    const info = await api.getProject('apps');
    assert.equal(info!.public, false);
    const members = await api.listMembers('apps');
    assert.equal(members.find((m) => m.entityName === 'alice')?.roleId, 2);

    // Push with the generated CI robot; pull with only the generated dockerconfigjson and CA.
    const ci = await core.readNamespacedSecret({ name: 'apps-robot-ci', namespace: ns });
    const ciCreds = `${decode(ci, 'username')}:${decode(ci, 'password')}`;
    const certDir = join(dir, 'client-certs');
    await mkdir(certDir, { recursive: true });
    await writeFile(join(certDir, 'ca.crt'), caBundle);
    const image = await makeOciLayout(join(dir, 'apps-image'), 'v1', 1);
    const skopeo = (args: string[], allowFailure = false) => run(env.tools.skopeo, ['--insecure-policy', ...args], { env: env.clients.env, allowFailure });
    await skopeo(['copy', '--dest-cert-dir', certDir, '--dest-creds', ciCreds, `oci:${image.dir}:v1`, `docker://${host}/apps/hello:v1`]);
    let authFiles = 0;
    const authFile = async (namespace: string, secretName: string) => {
      const s = await core.readNamespacedSecret({ name: secretName, namespace });
      assert.equal(s.type, 'kubernetes.io/dockerconfigjson');
      const file = join(dir, `auth-${++authFiles}.json`);
      await writeFile(file, decode(s, '.dockerconfigjson'));
      return file;
    };
    const pull = (auth: string) => skopeo(['inspect', '--raw', '--cert-dir', certDir, '--authfile', auth, `docker://${host}/apps/hello:v1`], true);
    for (const n of [nsA, nsB]) {
      const result = await pull(await authFile(n, 'e2e-apps-pull'));
      assert.equal(result.code, 0, result.stderr);
      assert.equal(JSON.parse(result.stdout).layers.length, 1);
    }
    const sa = await core.readNamespacedServiceAccount({ name: 'default', namespace: nsA });
    assert.ok(sa.imagePullSecrets!.some((x) => x.name === 'e2e-apps-pull'));
    const refused = await pull(await authFile(nsC, 'e2e-other-pull'));
    assert.notEqual(refused.code, 0, 'another project\'s pull secret must not pull from apps');
    const pushWithPull = await skopeo(['copy', '--dest-cert-dir', certDir, '--authfile', await authFile(nsA, 'e2e-apps-pull'), `oci:${image.dir}:v1`, `docker://${host}/apps/pushed:v1`], true);
    assert.notEqual(pushWithPull.code, 0, 'a pull secret cannot push');

    // A change behind the operator's back is reverted at the next resync.
    const alice = (await api.listMembers('apps')).find((m) => m.entityName === 'alice')!;
    await api.removeMember('apps', alice.id);
    await api.setProjectPublic('apps', true);
    await waitFor('drift reverted', async () => {
      const back = (await api.listMembers('apps')).some((m) => m.entityName === 'alice');
      return back && (await api.getProject('apps'))!.public === false;
    }, 30_000);

    // Rotation: the new robot is in every namespace before the old one is deleted.
    const oldAuth = await authFile(nsA, 'e2e-apps-pull');
    const oldRobot = apps.status!.pullRobotName!;
    await custom.patchNamespacedCustomObject(
      { ...projects, name: 'apps', body: { spec: { pullSecrets: { namespaces: [nsA, nsB], serviceAccounts: ['default'], rotationInterval: '1s' } } } },
      setHeaderOptions('Content-Type', 'application/merge-patch+json'),
    );
    const rotated = await waitFor('rotated pull robot', async () => {
      const p = await getProject('apps');
      return p.status?.pullRobotName && p.status.pullRobotName !== oldRobot ? p : undefined;
    }, 30_000);
    assert.match(rotated.status!.pullRobotName!, /^robot\$apps\+k8s-pull-\d+$/);
    await custom.patchNamespacedCustomObject(
      { ...projects, name: 'apps', body: { spec: { pullSecrets: { namespaces: [nsA], serviceAccounts: ['default'], rotationInterval: '720h' } } } },
      setHeaderOptions('Content-Type', 'application/merge-patch+json'),
    );
    const narrowed = await ready('apps');
    assert.deepEqual(narrowed.status!.pullSecretNamespaces, [nsA]);
    await waitFor('pull secret removed from the namespace that left', async () => {
      try {
        await core.readNamespacedSecret({ name: 'e2e-apps-pull', namespace: nsB });
        return false;
      } catch {
        return true;
      }
    });
    const fresh = await pull(await authFile(nsA, 'e2e-apps-pull'));
    assert.equal(fresh.code, 0, fresh.stderr);
    const robots = await api.listRobots(info!.projectId);
    assert.ok(!robots.some((r) => r.name === oldRobot), 'the old pull robot is deleted');
    assert.notEqual((await pull(oldAuth)).code, 0, 'the old credentials no longer work');

    // Deleting a Project (deletionPolicy Delete) removes its pull secrets and the project.
    await custom.deleteNamespacedCustomObject({ ...projects, name: 'other' });
    await waitFor('Project other gone', async () => {
      try {
        await getProject('other');
        return false;
      } catch {
        return true;
      }
    });
    assert.equal(await api.getProject('other'), undefined);
    await assert.rejects(core.readNamespacedSecret({ name: 'e2e-other-pull', namespace: nsC }));
  });
});
