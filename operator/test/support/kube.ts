/** Test helpers for the real kube-apiserver from testEnv(). */
import { randomBytes } from 'node:crypto';
import { AppsV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { testEnv } from '../../../e2e/env/test-env.ts';
import { installCrds } from '../../src/operator.ts';
import { allDefinitions } from '../../src/crds/definitions.ts';

export function kubeConfig(): KubeConfig {
  const env = testEnv();
  if (!env.kube?.kubeconfig) {
    throw new Error('testEnv().kube is missing: the operator tests need etcd + kube-apiserver, started by e2e/env/run-tests.ts (BERTH_SERVICES must include kube)');
  }
  const kc = new KubeConfig();
  kc.loadFromFile(env.kube.kubeconfig);
  return kc;
}

export async function setUpCluster(): Promise<KubeConfig> {
  const kc = kubeConfig();
  await installCrds(kc, Object.values(allDefinitions()));
  return kc;
}

export async function createNamespace(kc: KubeConfig, prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name } } });
  return name;
}

export function testLogger(): Logger {
  return pino({ level: process.env.BERTH_TEST_LOG ?? 'silent' });
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Does what the kubelet and the Deployment controller would: reports every replica updated and available. */
export async function markDeploymentAvailable(kc: KubeConfig, namespace: string, name: string): Promise<void> {
  const apps = kc.makeApiClient(AppsV1Api);
  await retryOnConflict(async () => {
    const d = await apps.readNamespacedDeployment({ name, namespace });
    const n = d.spec?.replicas ?? 1;
    d.status = {
      observedGeneration: d.metadata!.generation,
      replicas: n,
      updatedReplicas: n,
      readyReplicas: n,
      availableReplicas: n,
      conditions: [{ type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'simulated by the test' }],
    };
    await apps.replaceNamespacedDeploymentStatus({ name, namespace, body: d });
  });
}

/** Does what the DaemonSet controller would: every (simulated) node runs the latest template and is ready. */
export async function markDaemonSetRolledOut(kc: KubeConfig, namespace: string, name: string, nodes = 2): Promise<void> {
  const apps = kc.makeApiClient(AppsV1Api);
  await retryOnConflict(async () => {
    const ds = await apps.readNamespacedDaemonSet({ name, namespace });
    ds.status = {
      observedGeneration: ds.metadata!.generation,
      currentNumberScheduled: nodes,
      desiredNumberScheduled: nodes,
      numberMisscheduled: 0,
      numberReady: nodes,
      numberAvailable: nodes,
      updatedNumberScheduled: nodes,
    };
    await apps.replaceNamespacedDaemonSetStatus({ name, namespace, body: ds });
  });
}

/**
 * Run `update` (read, change, replace) again when the API server answers 409 Conflict: the
 * operator under test may write the same object between our read and our replace.
 */
async function retryOnConflict(update: () => Promise<void>, attempts = 5): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await update();
      return;
    } catch (err) {
      if ((err as { code?: number }).code !== 409 || attempt >= attempts) throw err;
    }
  }
}
