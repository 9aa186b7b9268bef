/**
 * RestartingInformer against the real kube-apiserver, reached through an in-process TCP relay
 * the test can cut: the watch fails, reconnects are refused for a while, and the informer must
 * come back by itself and deliver what changed meanwhile.
 */
import assert from 'node:assert/strict';
import { createConnection, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { KubernetesListObject, V1ConfigMap } from '@kubernetes/client-node';
import { RestartingInformer } from '../src/runtime/informer.ts';
import { createNamespace, kubeConfig, sleep, testLogger, waitFor } from './support/kube.ts';

/** A TCP relay to host:port that can drop every connection and refuse new ones. */
async function relay(target: URL): Promise<{ port: number; cut: () => void; heal: () => void; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  let refusing = false;
  const server: Server = createServer((client) => {
    if (refusing) return client.destroy();
    const upstream = createConnection({ host: target.hostname, port: Number(target.port) });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    cut: () => {
      refusing = true;
      for (const s of sockets) s.destroy();
    },
    heal: () => {
      refusing = false;
    },
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

describe('RestartingInformer on a real kube-apiserver', function () {
  this.timeout(60_000);

  it('restarts after its watch fails and delivers the changes made while it was down', async () => {
    const admin = kubeConfig();
    const ns = await createNamespace(admin, 'informer');
    const core = admin.makeApiClient(CoreV1Api);
    const cluster = admin.getCurrentCluster()!;
    const r = await relay(new URL(cluster.server));
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ ...cluster, name: 'relay', server: `https://127.0.0.1:${r.port}` }],
      users: admin.users,
      contexts: [{ name: 'relay', cluster: 'relay', user: admin.getCurrentUser()!.name }],
      currentContext: 'relay',
    });
    const relayed = kc.makeApiClient(CoreV1Api);
    const seen = new Set<string>();
    const informer = new RestartingInformer<V1ConfigMap>({
      kc,
      path: `/api/v1/namespaces/${ns}/configmaps`,
      list: () => relayed.listNamespacedConfigMap({ namespace: ns }) as Promise<KubernetesListObject<V1ConfigMap>>,
      onObject: (obj) => seen.add(obj.metadata!.name!),
      logger: testLogger(),
    });
    try {
      await informer.start();
      await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'before' } } });
      await waitFor('first object', async () => seen.has('before'));

      r.cut();
      await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'during' } } });
      await sleep(1500);
      assert.equal(seen.has('during'), false, 'nothing can arrive while the relay is down');
      r.heal();
      await waitFor('the change made while down', async () => seen.has('during'), 45_000);
      assert.ok(informer.restarts >= 1, `restarted ${informer.restarts} times`);
      await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'after' } } });
      await waitFor('watching again', async () => seen.has('after'));
    } finally {
      await informer.stop();
      await r.close();
    }
  });
});
