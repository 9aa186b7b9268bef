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
 * - without them, verification fails.
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
    operator = new Operator({ kc, logger: testLogger(), identity: 'e2e', leaseNamespace: ns, leaseName: 'e2e', leaseDurationSeconds: 3, leaseRetryMs: 300, operatorImage: 'berth-operator:test' });
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
    for (const e of container.env ?? []) {
      const ref = e.valueFrom!.secretKeyRef!;
      env[e.name] = decode(await core.readNamespacedSecret({ name: ref.name!, namespace: ns }), ref.key);
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
});
