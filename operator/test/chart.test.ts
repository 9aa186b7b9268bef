/**
 * The Helm chart: `helm lint`, `helm template`, a server-side dry run of everything it renders
 * on the real kube-apiserver, and then its RBAC for real: an operator holding only the
 * chart's ServiceAccount token reconciles a Registry, and is refused what it does not need.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { AuthorizationV1Api, CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import type { KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { testEnv } from '../../e2e/env/test-env.ts';
import { KubeCluster } from '../src/kube/cluster.ts';
import { Operator } from '../src/operator.ts';
import type { Registry } from '../src/crds/registry.ts';
import { renderedCrdFiles } from '../src/crds/generate.ts';
import { createNamespace, markDaemonSetRolledOut, setUpCluster, testLogger, waitFor } from './support/kube.ts';

const run = promisify(execFile);
const chart = 'charts/berth-operator';

function helm(): string {
  const path = testEnv().tools?.helm;
  if (!path) throw new Error('testEnv().tools.helm is missing: the chart tests need helm, installed by e2e/env/run-tests.ts (BERTH_SERVICES must include clients)');
  return path;
}

async function template(namespace: string, ...extra: string[]): Promise<KubernetesObject[]> {
  const { stdout } = await run(helm(), ['template', 'berth', chart, '--namespace', namespace, '--kube-version', '1.30.0', '--include-crds', ...extra]);
  return parseAllDocuments(stdout)
    .map((d) => d.toJSON() as KubernetesObject | null)
    .filter((d): d is KubernetesObject => d !== null);
}

describe('Helm chart charts/berth-operator', function () {
  this.timeout(120_000);

  it('passes helm lint --strict', async () => {
    const { stdout } = await run(helm(), ['lint', '--strict', chart, '--kube-version', '1.30.0']);
    assert.match(stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  it('renders the CRDs, ServiceAccount, least-privilege RBAC and the operator Deployment', async () => {
    const docs = await template('berth-system');
    const kinds = docs.map((d) => d.kind).sort();
    assert.deepEqual(kinds, ['ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'CustomResourceDefinition', 'Deployment', 'Role', 'RoleBinding', 'Service', 'ServiceAccount']);
    const rules = (docs.find((d) => d.kind === 'ClusterRole') as unknown as { rules: Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }> }).rules;
    for (const r of rules) {
      assert.ok(![...r.apiGroups, ...r.resources, ...r.verbs].includes('*'), `wildcard in ${JSON.stringify(r)}`);
      assert.ok(!r.resources.some((x) => ['pods', 'nodes', 'clusterroles', 'roles', 'rolebindings'].includes(x)), `needless access: ${r.resources}`);
    }
    const role = docs.find((d) => d.kind === 'Role') as unknown as { rules: Array<{ resources: string[] }> };
    assert.deepEqual(role.rules.map((r) => r.resources).flat(), ['leases']);
    const deployment = docs.find((d) => d.kind === 'Deployment') as unknown as { spec: { replicas: number; template: { spec: { serviceAccountName: string; containers: Array<{ image: string }> } } } };
    assert.equal(deployment.spec.replicas, 2);
    assert.equal(deployment.spec.template.spec.serviceAccountName, 'berth-berth-operator');
    assert.equal(deployment.spec.template.spec.containers[0]!.image, 'ghcr.io/berth-dev/berth-operator:0.1.0');
    for (const [file, text] of Object.entries(renderedCrdFiles())) {
      assert.equal(readFileSync(`${chart}/crds/${file}`, 'utf8'), text, `${file} in the chart differs from the schema`);
    }
    const custom = await template('berth-system', '--set', 'replicaCount=3', '--set', 'image.tag=1.2.3', '--set', 'rbac.certManager=false');
    const d3 = custom.find((d) => d.kind === 'Deployment') as unknown as typeof deployment;
    assert.equal(d3.spec.replicas, 3);
    assert.equal(d3.spec.template.spec.containers[0]!.image, 'ghcr.io/berth-dev/berth-operator:1.2.3');
    assert.doesNotMatch(JSON.stringify(custom.find((d) => d.kind === 'ClusterRole')), /cert-manager/);
  });

  it('is accepted by the real API server (server-side dry run of every rendered object)', async () => {
    const kc = await setUpCluster();
    const ns = await createNamespace(kc, 'chart-dry');
    const cluster = new KubeCluster(kc);
    for (const obj of await template(ns)) {
      const applied = await cluster.apply(obj, { dryRun: true });
      assert.equal(applied.metadata?.name, obj.metadata?.name);
    }
  });

  it('grants the operator enough to reconcile a Registry with its ServiceAccount token, and no more', async () => {
    const admin = await setUpCluster();
    const ns = await createNamespace(admin, 'chart-rbac');
    const cluster = new KubeCluster(admin);
    const docs = await template(ns);
    for (const obj of docs.filter((d) => ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'].includes(d.kind!))) {
      await cluster.apply(obj);
    }
    const core = admin.makeApiClient(CoreV1Api);
    const sa = 'berth-berth-operator';
    const token = await core.createNamespacedServiceAccountToken({ name: sa, namespace: ns, body: { spec: { audiences: [], expirationSeconds: 3600 } } });
    const adminCluster = admin.getCurrentCluster()!;
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'test', server: adminCluster.server, caData: adminCluster.caData, caFile: adminCluster.caFile, skipTLSVerify: adminCluster.skipTLSVerify }],
      users: [{ name: 'operator', token: token.status!.token }],
      contexts: [{ name: 'operator', cluster: 'test', user: 'operator' }],
      currentContext: 'operator',
    });

    const user = `system:serviceaccount:${ns}:${sa}`;
    const authz = admin.makeApiClient(AuthorizationV1Api);
    const can = async (verb: string, resource: string, group = '', namespace = 'elsewhere', subresource?: string) =>
      (
        await authz.createSubjectAccessReview({
          body: { spec: { user, groups: ['system:serviceaccounts', `system:serviceaccounts:${ns}`], resourceAttributes: { verb, resource, group, namespace, subresource } } },
        })
      ).status!.allowed;
    assert.equal(await can('create', 'secrets'), true);
    assert.equal(await can('patch', 'registries', 'berth.dev', 'elsewhere', 'status'), true);
    assert.equal(await can('get', 'pods'), false);
    assert.equal(await can('create', 'pods'), false);
    assert.equal(await can('delete', 'namespaces', '', ''), false);
    assert.equal(await can('list', 'nodes', '', ''), false);
    assert.equal(await can('update', 'leases', 'coordination.k8s.io', ns), true);
    assert.equal(await can('update', 'leases', 'coordination.k8s.io', 'kube-system'), false, 'leases only in its own namespace');
    assert.equal(await can('delete', 'persistentvolumeclaims'), false, 'registry data is never deleted');

    const operator = new Operator({
      kc,
      logger: testLogger(),
      identity: 'rbac-test',
      leaseNamespace: ns,
      leaseDurationSeconds: 3,
      leaseRetryMs: 300,
      operatorImage: 'berth-operator:test',
    });
    await operator.start();
    try {
      const custom = admin.makeApiClient(CustomObjectsApi);
      const target = await createNamespace(admin, 'chart-rbac-target');
      await custom.createNamespacedCustomObject({
        group: 'berth.dev',
        version: 'v1alpha1',
        plural: 'registries',
        namespace: target,
        body: { apiVersion: 'berth.dev/v1alpha1', kind: 'Registry', metadata: { name: 'r' }, spec: { host: 'r.example.com', nodeTrust: { enabled: true }, ingress: {} } },
      });
      const reg = await waitFor('a reconciled status', async () => {
        const r = (await custom.getNamespacedCustomObject({ group: 'berth.dev', version: 'v1alpha1', plural: 'registries', namespace: target, name: 'r' })) as Registry;
        return r.status?.observedGeneration === 1 && r.status.caBundle ? r : undefined;
      });
      assert.equal(reg.status!.conditions!.find((c) => c.type === 'Degraded')!.status, 'False');
      // Deletion under the same RBAC: node-trust retirement, children, finalizer.
      await custom.deleteNamespacedCustomObject({ group: 'berth.dev', version: 'v1alpha1', plural: 'registries', namespace: target, name: 'r' });
      await waitFor('remove mode', async () => (await core.readNamespacedConfigMap({ name: 'r-node-trust', namespace: target })).data!['trust.json']!.includes('"remove"'));
      await markDaemonSetRolledOut(admin, target, 'r-node-trust');
      await waitFor('Registry deleted', async () => {
        try {
          await custom.getNamespacedCustomObject({ group: 'berth.dev', version: 'v1alpha1', plural: 'registries', namespace: target, name: 'r' });
          return false;
        } catch {
          return true;
        }
      });
    } finally {
      await operator.stop();
    }
  });
});
