import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import { testEnv } from '../env/test-env.ts';

const group = 'smoke.berth.test';

function kubeConfig(): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(testEnv().kube.kubeconfig);
  return kc;
}

describe('smoke: etcd + kube-apiserver of this run', () => {
  it('creates, reads and deletes a ConfigMap as the admin', async () => {
    const core = kubeConfig().makeApiClient(k8s.CoreV1Api);
    const name = `smoke-${randomBytes(4).toString('hex')}`;
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name }, data: { answer: '42' } } });
    const read = await core.readNamespacedConfigMap({ name, namespace: 'default' });
    assert.deepEqual(read.data, { answer: '42' });
    await core.deleteNamespacedConfigMap({ name, namespace: 'default' });
    await assert.rejects(core.readNamespacedConfigMap({ name, namespace: 'default' }), /404|not found/i);
  });

  it('serves a CustomResourceDefinition and one custom object', async () => {
    const kc = kubeConfig();
    const extensions = kc.makeApiClient(k8s.ApiextensionsV1Api);
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    const plural = `smokes${randomBytes(3).toString('hex')}`;
    const crdName = `${plural}.${group}`;
    await extensions.createCustomResourceDefinition({
      body: {
        metadata: { name: crdName },
        spec: {
          group,
          scope: 'Namespaced',
          names: { plural, singular: plural.slice(0, -1), kind: `Smoke${plural.slice(6)}`, listKind: `Smoke${plural.slice(6)}List` },
          versions: [
            {
              name: 'v1',
              served: true,
              storage: true,
              schema: {
                openAPIV3Schema: {
                  type: 'object',
                  properties: { spec: { type: 'object', properties: { size: { type: 'integer', minimum: 1 } } } },
                },
              },
            },
          ],
        },
      },
    });
    try {
      await waitFor(async () => {
        const crd = await extensions.readCustomResourceDefinition({ name: crdName });
        return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ?? false;
      });
      const target = { group, version: 'v1', namespace: 'default', plural };
      const kind = `Smoke${plural.slice(6)}`;
      await retryUntilServed(() =>
        custom.createNamespacedCustomObject({
          ...target,
          body: { apiVersion: `${group}/v1`, kind, metadata: { name: 'one' }, spec: { size: 3 } },
        }),
      );
      const read = (await custom.getNamespacedCustomObject({ ...target, name: 'one' })) as { spec: { size: number } };
      assert.equal(read.spec.size, 3);
      // The schema is enforced by the real server.
      await assert.rejects(
        custom.createNamespacedCustomObject({
          ...target,
          body: { apiVersion: `${group}/v1`, kind, metadata: { name: 'two' }, spec: { size: 0 } },
        }),
        /422|Invalid/,
      );
      await custom.deleteNamespacedCustomObject({ ...target, name: 'one' });
    } finally {
      await extensions.deleteCustomResourceDefinition({ name: crdName });
    }
  });

  it('has RBAC on: an anonymous request is not allowed to list namespaces', async () => {
    // Same cluster and CA, no client certificate: the request is system:anonymous.
    const kc = kubeConfig();
    const cluster = kc.getCurrentCluster()!;
    const anonymous = new k8s.KubeConfig();
    anonymous.loadFromOptions({
      clusters: [cluster],
      users: [{ name: 'anonymous' }],
      contexts: [{ name: 'anonymous', cluster: cluster.name, user: 'anonymous' }],
      currentContext: 'anonymous',
    });
    const core = anonymous.makeApiClient(k8s.CoreV1Api);
    await assert.rejects(core.listNamespace(), /403|401|forbidden|unauthorized/i);
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** A just-established CRD can take a moment before its endpoint serves (404 meanwhile). */
async function retryUntilServed<T>(work: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await work();
    } catch (err) {
      if (Date.now() > deadline || !/404/.test(String(err))) throw err;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}
