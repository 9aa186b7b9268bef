/**
 * Every manifest in examples/kubernetes/ is applied to the real kube-apiserver (the
 * kustomization's resources in its order), and the operator turns the Registry examples into
 * the expected children.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { AppsV1Api, CoreV1Api, CustomObjectsApi, PolicyV1Api } from '@kubernetes/client-node';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { parse, parseAllDocuments } from 'yaml';
import { KubeCluster } from '../src/kube/cluster.ts';
import { Operator } from '../src/operator.ts';
import type { Registry } from '../src/crds/registry.ts';
import { createNamespace, markDeploymentAvailable, setUpCluster, testLogger, waitFor } from './support/kube.ts';

const root = 'examples/kubernetes';

function files(dir: string): string[] {
  return readdirSync(dir)
    .flatMap((f) => (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : [join(dir, f)]))
    .filter((f) => f.endsWith('.yaml'))
    .sort();
}

function objects(file: string): KubernetesObject[] {
  return parseAllDocuments(readFileSync(file, 'utf8'))
    .map((d) => d.toJSON() as KubernetesObject | null)
    .filter((d): d is KubernetesObject => d !== null);
}

/** Example objects moved into a test namespace (Namespaces themselves stay as they are). */
function into(namespace: string, objs: KubernetesObject[]): KubernetesObject[] {
  return objs.map((o) => (o.kind === 'Namespace' || !o.metadata?.namespace || o.metadata.namespace !== 'berth' ? o : { ...o, metadata: { ...o.metadata, namespace } }));
}

describe('examples/kubernetes on a real kube-apiserver', function () {
  this.timeout(120_000);
  let kc: KubeConfig;
  let cluster: KubeCluster;
  let operator: Operator;
  const custom = () => kc.makeApiClient(CustomObjectsApi);
  const registry = (ns: string) =>
    custom().getNamespacedCustomObject({ group: 'berth.dev', version: 'v1alpha1', plural: 'registries', namespace: ns, name: 'registry' }) as Promise<Registry>;

  before(async () => {
    kc = await setUpCluster();
    cluster = new KubeCluster(kc);
    const ns = await createNamespace(kc, 'examples-op');
    operator = new Operator({ kc, logger: testLogger(), identity: 'examples', leaseNamespace: ns, leaseName: 'examples', leaseDurationSeconds: 3, leaseRetryMs: 300, operatorImage: 'berth-operator:test' });
    await operator.start();
  });

  after(async () => {
    await operator.stop();
  });

  it('every manifest is accepted by the API server (server-side dry run)', async () => {
    const all = files(root).filter((f) => !f.endsWith('kustomization.yaml'));
    assert.ok(all.length >= 7, `found ${all.map((f) => relative(root, f))}`);
    const ns = await createNamespace(kc, 'examples-dry');
    for (const file of all) {
      for (const obj of into(ns, objects(file))) {
        if (obj.kind === 'Namespace') continue;
        // Namespaces the examples create are not there in a dry run; Argo CD's may not exist.
        const target = obj.metadata!.namespace && !['team-a', 'team-b', 'argocd'].includes(obj.metadata!.namespace) ? obj : { ...obj, metadata: { ...obj.metadata, namespace: ns } };
        await cluster.apply(target, { dryRun: true }).catch((err: unknown) => {
          throw new Error(`${file}: ${obj.kind}/${obj.metadata?.name} refused: ${(err as { body?: unknown }).body ?? err}`);
        });
      }
    }
  });

  it('the minimal Registry produces its children on embedded backends and becomes Ready', async () => {
    const ns = await createNamespace(kc, 'examples-min');
    for (const obj of into(ns, objects(join(root, 'registry-minimal.yaml')))) await cluster.apply(obj);
    const apps = kc.makeApiClient(AppsV1Api);
    const core = kc.makeApiClient(CoreV1Api);
    const dep = await waitFor('Deployment', () => apps.readNamespacedDeployment({ name: 'registry', namespace: ns }));
    assert.equal(dep.spec!.replicas, 1);
    assert.equal(dep.spec!.strategy!.type, 'Recreate');
    const pvc = await core.readNamespacedPersistentVolumeClaim({ name: 'registry-data', namespace: ns });
    assert.equal(pvc.spec!.resources!.requests!.storage, '20Gi');
    const config = parse((await core.readNamespacedConfigMap({ name: 'registry-config', namespace: ns })).data!['config.yaml']!);
    assert.deepEqual([config.storage.driver, config.database.driver, config.cache.driver], ['filesystem', 'pglite', 'memory']);
    const trust = JSON.parse((await waitFor('node trust', () => core.readNamespacedConfigMap({ name: 'registry-node-trust', namespace: ns }))).data!['trust.json']!);
    assert.equal(trust.hostPort, 'registry.example.com');
    assert.deepEqual(trust.targets, { containerd: true, docker: true, containers: false });
    await markDeploymentAvailable(kc, ns, 'registry');
    const ready = await waitFor('Ready', async () => {
      const r = await registry(ns);
      return r.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' ? r : undefined;
    });
    assert.equal(ready.status!.externalURL, 'https://registry.example.com');
  });

  it('the GitOps layout applies the production Registry, its backend Secrets and the Project; the Registry gets 3 replicas, a PDB and an Ingress', async () => {
    const ns = await createNamespace(kc, 'examples-prod');
    const kustomization = parse(readFileSync(join(root, 'gitops', 'kustomization.yaml'), 'utf8')) as { resources: string[]; labels: Array<{ pairs: Record<string, string> }> };
    const applied: string[] = [];
    for (const resource of kustomization.resources) {
      const file = join(root, 'gitops', resource);
      for (const obj of into(ns, objects(file))) {
        if (obj.kind === 'Namespace' && obj.metadata!.name === 'berth') continue; // the test namespace stands in for it
        obj.metadata!.labels = { ...obj.metadata!.labels, ...kustomization.labels[0]!.pairs };
        await cluster.apply(obj);
        applied.push(`${obj.kind}/${obj.metadata!.name}`);
      }
    }
    assert.deepEqual(applied, [
      'Secret/berth-s3',
      'Secret/berth-postgres',
      'Secret/berth-redis',
      'Registry/registry',
      'Namespace/team-a',
      'Namespace/team-b',
      'Project/team-apps',
    ]);
    const apps = kc.makeApiClient(AppsV1Api);
    const dep = await waitFor('Deployment', () => apps.readNamespacedDeployment({ name: 'registry', namespace: ns }));
    assert.equal(dep.spec!.replicas, 3);
    assert.equal(dep.spec!.strategy!.type, 'RollingUpdate');
    const pdb = await waitFor('PDB', () => kc.makeApiClient(PolicyV1Api).readNamespacedPodDisruptionBudget({ name: 'registry', namespace: ns }));
    assert.equal(pdb.spec!.maxUnavailable, 1);
    const config = parse((await kc.makeApiClient(CoreV1Api).readNamespacedConfigMap({ name: 'registry-config', namespace: ns })).data!['config.yaml']!);
    assert.deepEqual(config.storage.s3, { endPoint: 'minio.storage.svc', port: 9000, useSSL: false, bucket: 'berth', region: 'us-east-1' });
    assert.equal(config.database.postgres.poolSize, 20);
    assert.equal(config.cache.redis.keyPrefix, 'berth:');
    const project = await custom().getNamespacedCustomObject({ group: 'berth.dev', version: 'v1alpha1', plural: 'projects', namespace: ns, name: 'team-apps' });
    assert.equal((project as { spec: { deletionPolicy: string } }).spec.deletionPolicy, 'Retain');
  });

  it('the Pod pulling with the generated secret and the Argo CD health checks apply', async () => {
    for (const obj of objects(join(root, 'project-pull-secrets.yaml')).filter((o) => o.kind === 'Namespace')) await cluster.apply(obj);
    const [pod] = objects(join(root, 'pod-pull.yaml'));
    const applied = await cluster.apply(pod!);
    assert.equal((applied as unknown as { spec: { imagePullSecrets: Array<{ name: string }> } }).spec.imagePullSecrets[0]!.name, 'team-apps-pull');
    const project = objects(join(root, 'project-pull-secrets.yaml')).find((o) => o.kind === 'Project') as unknown as { spec: { pullSecrets: { secretName: string } } };
    assert.equal(project.spec.pullSecrets.secretName, 'team-apps-pull', 'the Pod uses the secret the Project declares');

    await cluster.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'argocd' } });
    const [cm] = objects(join(root, 'argocd', 'argocd-cm.yaml'));
    await cluster.apply(cm!);
    const data = (cm as unknown as { data: Record<string, string> }).data;
    for (const kind of ['Registry', 'Project']) {
      const lua = data[`resource.customizations.health.berth.dev_${kind}`]!;
      assert.match(lua, /observedGeneration < obj\.metadata\.generation/);
      assert.match(lua, /c\.type == "Ready"/);
    }
  });
});
