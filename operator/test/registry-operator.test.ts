/**
 * The operator against the real kube-apiserver from testEnv(). There is no kubelet and no
 * controller-manager: the tests report Deployment and DaemonSet progress themselves, as those
 * would, and deletion is the operator's finalizer's work (no garbage collector runs).
 */
import assert from 'node:assert/strict';
import { AppsV1Api, CoreV1Api, CustomObjectsApi, NetworkingV1Api, PolicyV1Api, ApiException, setHeaderOptions } from '@kubernetes/client-node';
import type { KubeConfig, KubernetesObject, V1ConfigMap, V1Secret } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { Operator } from '../src/operator.ts';
import type { Registry } from '../src/crds/registry.ts';
import { CHECKSUM_ANNOTATION } from '../src/registry/render.ts';
import { generateCA, issueServingCertificate } from '../src/registry/pki.ts';
import { KubeCluster } from '../src/kube/cluster.ts';
import { createNamespace, markDaemonSetRolledOut, markDeploymentAvailable, setUpCluster, sleep, testLogger, waitFor } from './support/kube.ts';

const group = { group: 'berth.dev', version: 'v1alpha1', plural: 'registries' };

describe('Registry operator on a real kube-apiserver', function () {
  this.timeout(120_000);
  let kc: KubeConfig;
  let ns: string;
  let core: CoreV1Api;
  let apps: AppsV1Api;
  let custom: CustomObjectsApi;
  const operators: Operator[] = [];

  function startOperator(identity: string, extra: Partial<ConstructorParameters<typeof Operator>[0]> = {}): Operator {
    const op = new Operator({
      kc,
      logger: testLogger(),
      identity,
      leaseNamespace: ns,
      leaseDurationSeconds: 3,
      leaseRetryMs: 300,
      operatorImage: 'berth-operator:test',
      healthPort: 0,
      healthHost: '127.0.0.1',
      resyncMs: 2000,
      nodeTrustCleanupTimeoutMs: 60_000,
      ...extra,
    });
    operators.push(op);
    void op.start();
    return op;
  }

  async function stopOperators(): Promise<void> {
    for (const op of operators.splice(0)) await op.stop();
  }

  const getRegistry = (name: string) => custom.getNamespacedCustomObject({ ...group, namespace: ns, name }) as Promise<Registry>;
  const createRegistry = (name: string, spec: Record<string, unknown>) =>
    custom.createNamespacedCustomObject({ ...group, namespace: ns, body: { apiVersion: 'berth.dev/v1alpha1', kind: 'Registry', metadata: { name }, spec } });
  const condition = (r: Registry, type: string) => r.status?.conditions?.find((c) => c.type === type);
  const exists = async (read: () => Promise<unknown>) => {
    try {
      await read();
      return true;
    } catch (err) {
      if (err instanceof ApiException && err.code === 404) return false;
      throw err;
    }
  };

  before(async () => {
    kc = await setUpCluster();
    ns = await createNamespace(kc, 'registry-op');
    core = kc.makeApiClient(CoreV1Api);
    apps = kc.makeApiClient(AppsV1Api);
    custom = kc.makeApiClient(CustomObjectsApi);
  });

  afterEach(stopOperators);

  after(async () => {
    await stopOperators();
    // No operator is left to run finalizers, and no namespace controller empties the namespace.
    for (const plural of ['registries', 'projects']) {
      const kind = { ...group, plural };
      const left = (await custom.listNamespacedCustomObject({ ...kind, namespace: ns })) as { items: Registry[] };
      for (const r of left.items) {
        await custom
          .patchNamespacedCustomObject(
            { ...kind, namespace: ns, name: r.metadata.name!, body: { metadata: { finalizers: null } } },
            setHeaderOptions('Content-Type', 'application/merge-patch+json'),
          )
          .catch(() => undefined);
        await custom.deleteNamespacedCustomObject({ ...kind, namespace: ns, name: r.metadata.name! }).catch(() => undefined);
      }
    }
    await core.deleteNamespace({ name: ns }).catch(() => undefined);
  });

  it('rejects invalid Registries with messages that say what is wrong', async () => {
    const refused = async (spec: Record<string, unknown>, expected: RegExp) => {
      await assert.rejects(createRegistry('invalid', spec), (err: unknown) => {
        assert.ok(err instanceof ApiException, String(err));
        assert.equal(err.code, 422);
        const body = typeof err.body === 'string' ? JSON.parse(err.body) : err.body;
        assert.match(String(body.message), expected);
        return true;
      });
    };
    await refused({ host: 'registry.example.com', replicas: 3 }, /replicas > 1 requires external backends/);
    await refused({ host: 'Not A Host' }, /spec\.host/);
    await refused({}, /spec\.host: Required value/);
    await refused(
      { host: 'r.example.com', storage: { filesystem: {}, s3: { endPoint: 'm', bucket: 'bbb', credentialsSecret: { name: 's' } } } },
      /at most one of storage\.filesystem and storage\.s3/,
    );
    await refused({ host: 'r.example.com', imagePullPolicy: 'Sometimes' }, /Unsupported value: "Sometimes"/);
  });

  it('rejects invalid Projects with messages that say what is wrong', async () => {
    const projects = { group: 'berth.dev', version: 'v1alpha1', plural: 'projects' };
    const create = (name: string, spec: Record<string, unknown>) =>
      custom.createNamespacedCustomObject({ ...projects, namespace: ns, body: { apiVersion: 'berth.dev/v1alpha1', kind: 'Project', metadata: { name }, spec } });
    const refused = async (spec: Record<string, unknown>, expected: RegExp) => {
      await assert.rejects(create('invalid-project', spec), (err: unknown) => {
        assert.ok(err instanceof ApiException, String(err));
        const body = typeof err.body === 'string' ? JSON.parse(err.body) : err.body;
        assert.match(String(body.message), expected);
        return true;
      });
    };
    await refused({ registryRef: { name: 'r' }, pullSecrets: { serviceAccounts: ['default'] } }, /pullSecrets needs namespaces or namespaceSelector/);
    await refused({ registryRef: { name: 'r' }, members: [{ name: 'alice', role: 'owner' }] }, /spec\.members\[0\]\.role: Unsupported value: "owner"/);
    await refused({ registryRef: { name: 'r' }, storageQuota: '10GB' }, /spec\.storageQuota/);
    await refused({ public: true }, /spec\.registryRef: Required value/);
    await create('named', { registryRef: { name: 'r' }, projectName: 'apps' });
    await assert.rejects(
      custom.patchNamespacedCustomObject(
        { ...projects, namespace: ns, name: 'named', body: { spec: { projectName: 'other' } } },
        setHeaderOptions('Content-Type', 'application/merge-patch+json'),
      ),
      (err: unknown) => err instanceof ApiException && /projectName is immutable/.test(String(err.body)),
    );
  });

  it('reconciles an embedded Registry (with Ingress and node trust) into its children, reports Ready once available, and writes nothing after a restart', async () => {
    startOperator('op-a');
    await createRegistry('minimal', { host: 'registry.example.com', ingress: { className: 'nginx' }, nodeTrust: { enabled: true, containers: true } });
    const reg = await waitFor('status with a CA bundle', async () => {
      const r = await getRegistry('minimal');
      return r.status?.caBundle && r.status.observedGeneration === 1 ? r : undefined;
    });
    assert.equal(reg.status!.externalURL, 'https://registry.example.com');
    assert.equal(condition(reg, 'Ready')!.status, 'False');
    assert.equal(condition(reg, 'Ready')!.reason, 'RolloutInProgress');
    assert.ok(reg.metadata.finalizers!.includes('berth.dev/cleanup'));

    for (const s of ['minimal-ca', 'minimal-tls', 'minimal-token', 'minimal-admin']) {
      const secret = await core.readNamespacedSecret({ name: s, namespace: ns });
      assert.equal(secret.metadata!.ownerReferences![0]!.uid, reg.metadata.uid);
    }
    const cm = await core.readNamespacedConfigMap({ name: 'minimal-config', namespace: ns });
    assert.equal(parse(cm.data!['config.yaml']!).database.driver, 'pglite');
    const dep = await apps.readNamespacedDeployment({ name: 'minimal', namespace: ns });
    assert.match(dep.spec!.template.metadata!.annotations![CHECKSUM_ANNOTATION]!, /^[0-9a-f]{64}$/);
    assert.equal(dep.metadata!.managedFields!.find((m) => m.operation === 'Apply')!.manager, 'berth-operator');
    await core.readNamespacedService({ name: 'minimal', namespace: ns });
    await core.readNamespacedPersistentVolumeClaim({ name: 'minimal-data', namespace: ns });
    assert.equal(await exists(() => kc.makeApiClient(PolicyV1Api).readNamespacedPodDisruptionBudget({ name: 'minimal', namespace: ns })), false);

    await markDeploymentAvailable(kc, ns, 'minimal');
    const ready = await waitFor('Ready', async () => {
      const r = await getRegistry('minimal');
      return condition(r, 'Ready')?.status === 'True' ? r : undefined;
    });
    assert.equal(condition(ready, 'Reconciling')!.status, 'False');
    assert.equal(condition(ready, 'Degraded')!.status, 'False');
    const events = await core.listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.name=minimal` });
    assert.ok(events.items.some((e) => e.reason === 'Ready'), 'a Ready event is recorded');

    // Restart: a new operator finds nothing to change.
    const snapshot = async () => {
      const versions: Record<string, string> = {};
      for (const s of (await core.listNamespacedSecret({ namespace: ns, labelSelector: 'berth.dev/registry=minimal' })).items) versions[`secret/${s.metadata!.name}`] = s.metadata!.resourceVersion!;
      for (const c of (await core.listNamespacedConfigMap({ namespace: ns, labelSelector: 'berth.dev/registry=minimal' })).items) versions[`cm/${c.metadata!.name}`] = c.metadata!.resourceVersion!;
      versions.deployment = (await apps.readNamespacedDeployment({ name: 'minimal', namespace: ns })).metadata!.resourceVersion!;
      versions.service = (await core.readNamespacedService({ name: 'minimal', namespace: ns })).metadata!.resourceVersion!;
      versions.daemonset = (await apps.readNamespacedDaemonSet({ name: 'minimal-node-trust', namespace: ns })).metadata!.resourceVersion!;
      versions.ingress = (await kc.makeApiClient(NetworkingV1Api).readNamespacedIngress({ name: 'minimal', namespace: ns })).metadata!.resourceVersion!;
      versions.pvc = (await core.readNamespacedPersistentVolumeClaim({ name: 'minimal-data', namespace: ns })).metadata!.resourceVersion!;
      versions.registry = (await getRegistry('minimal')).metadata.resourceVersion!;
      return versions;
    };
    const before = await snapshot();
    await stopOperators();
    const second = startOperator('op-b');
    await waitFor('the new operator to reconcile', async () => second.reconciles >= 2);
    await sleep(500);
    assert.deepEqual(await snapshot(), before, 'no child, secret or status was written after the restart');
  });

  it('puts back a child edited by hand', async () => {
    startOperator('op-c');
    await createRegistry('edited', { host: 'edited.example.com' });
    await waitFor('Deployment', () => apps.readNamespacedDeployment({ name: 'edited', namespace: ns }));
    const cm = await core.readNamespacedConfigMap({ name: 'edited-config', namespace: ns });
    const original = cm.data!['config.yaml'];
    cm.data!['config.yaml'] = 'tampered: true\n';
    await core.replaceNamespacedConfigMap({ name: 'edited-config', namespace: ns, body: cm });
    const d = await apps.readNamespacedDeployment({ name: 'edited', namespace: ns });
    d.spec!.replicas = 5;
    d.spec!.template.spec!.containers[0]!.image = 'evil:latest';
    await apps.replaceNamespacedDeployment({ name: 'edited', namespace: ns, body: d });
    await waitFor('ConfigMap restored', async () => (await core.readNamespacedConfigMap({ name: 'edited-config', namespace: ns })).data!['config.yaml'] === original);
    await waitFor('Deployment restored', async () => {
      const now = await apps.readNamespacedDeployment({ name: 'edited', namespace: ns });
      return now.spec!.replicas === 1 && now.spec!.template.spec!.containers[0]!.image !== 'evil:latest';
    });
  });

  it('reports a missing backend Secret as Degraded, then converges a production Registry once it exists', async () => {
    startOperator('op-d');
    await createRegistry('prod', {
      host: 'prod.example.com',
      replicas: 3,
      storage: { s3: { endPoint: 'minio.storage.svc', port: 9000, useSSL: false, bucket: 'berth', credentialsSecret: { name: 'prod-s3' } } },
      database: { postgres: { urlSecret: { name: 'prod-pg' } } },
      redis: { urlSecret: { name: 'prod-redis' } },
      ingress: { className: 'nginx' },
    });
    const degraded = await waitFor('Degraded', async () => {
      const r = await getRegistry('prod');
      return condition(r, 'Degraded')?.status === 'True' ? r : undefined;
    });
    assert.equal(condition(degraded, 'Degraded')!.reason, 'SecretNotFound');
    assert.match(condition(degraded, 'Degraded')!.message, /prod-s3/);

    const secret = (name: string, data: Record<string, string>): V1Secret => ({ metadata: { name }, stringData: data });
    await core.createNamespacedSecret({ namespace: ns, body: secret('prod-s3', { accessKey: 'ak', secretKey: 'sk' }) });
    await core.createNamespacedSecret({ namespace: ns, body: secret('prod-pg', { url: 'postgres://u:p@db/berth' }) });
    await core.createNamespacedSecret({ namespace: ns, body: secret('prod-redis', { url: 'redis://:p@redis:6379' }) });
    await waitFor('Degraded cleared', async () => condition(await getRegistry('prod'), 'Degraded')?.status === 'False');
    const pdb = await kc.makeApiClient(PolicyV1Api).readNamespacedPodDisruptionBudget({ name: 'prod', namespace: ns });
    assert.equal(pdb.spec!.maxUnavailable, 1);
    const d = await apps.readNamespacedDeployment({ name: 'prod', namespace: ns });
    assert.equal(d.spec!.replicas, 3);
    assert.deepEqual(d.spec!.template.spec!.containers[0]!.env!.map((e) => e.name).sort(), [
      'BERTH_AUTH_ADMIN_PASSWORD',
      'BERTH_AUTH_ADMIN_USERNAME',
      'BERTH_CACHE_REDIS_URL',
      'BERTH_DATABASE_POSTGRES_URL',
      'BERTH_STORAGE_S3_ACCESSKEY',
      'BERTH_STORAGE_S3_SECRETKEY',
      'NODE_OPTIONS',
    ]);
    assert.equal(await exists(() => core.readNamespacedPersistentVolumeClaim({ name: 'prod-data', namespace: ns })), false);

    // A changed password rolls the Pods through the checksum annotation.
    const sumBefore = d.spec!.template.metadata!.annotations![CHECKSUM_ANNOTATION];
    await core.replaceNamespacedSecret({ name: 'prod-pg', namespace: ns, body: secret('prod-pg', { url: 'postgres://u:new@db/berth' }) });
    await waitFor('checksum change', async () => {
      const now = await apps.readNamespacedDeployment({ name: 'prod', namespace: ns });
      return now.spec!.template.metadata!.annotations![CHECKSUM_ANNOTATION] !== sumBefore;
    });
  });

  it('removes node-trust files before deleting children, runs its finalizer and keeps the data claim', async () => {
    startOperator('op-e');
    await createRegistry('gone', { host: 'gone.example.com', nodeTrust: { enabled: true } });
    await waitFor('node-trust DaemonSet', () => apps.readNamespacedDaemonSet({ name: 'gone-node-trust', namespace: ns }));
    const trust = await core.readNamespacedConfigMap({ name: 'gone-node-trust', namespace: ns });
    const config = JSON.parse(trust.data!['trust.json']!);
    assert.equal(config.mode, 'sync');
    assert.equal(config.hostPort, 'gone.example.com');
    assert.match(config.caBundle, /BEGIN CERTIFICATE/);

    await custom.deleteNamespacedCustomObject({ ...group, namespace: ns, name: 'gone' });
    await waitFor('remove mode', async () => {
      const cm: V1ConfigMap = await core.readNamespacedConfigMap({ name: 'gone-node-trust', namespace: ns });
      return JSON.parse(cm.data!['trust.json']!).mode === 'remove';
    });
    await sleep(500);
    assert.equal(await exists(() => apps.readNamespacedDeployment({ name: 'gone', namespace: ns })), true, 'children wait for the nodes');
    await markDaemonSetRolledOut(kc, ns, 'gone-node-trust');
    await waitFor('Registry gone', async () => !(await exists(() => getRegistry('gone'))));
    for (const read of [
      () => apps.readNamespacedDaemonSet({ name: 'gone-node-trust', namespace: ns }),
      () => apps.readNamespacedDeployment({ name: 'gone', namespace: ns }),
      () => core.readNamespacedService({ name: 'gone', namespace: ns }),
      () => core.readNamespacedConfigMap({ name: 'gone-config', namespace: ns }),
      () => core.readNamespacedSecret({ name: 'gone-ca', namespace: ns }),
      () => core.readNamespacedSecret({ name: 'gone-tls', namespace: ns }),
      () => core.readNamespacedSecret({ name: 'gone-token', namespace: ns }),
      () => core.readNamespacedSecret({ name: 'gone-admin', namespace: ns }),
    ]) {
      assert.equal(await exists(read), false);
    }
    assert.equal(await exists(() => core.readNamespacedPersistentVolumeClaim({ name: 'gone-data', namespace: ns })), true);
  });

  it('rotates the token signing key in two phases across a rollout', async () => {
    startOperator('op-rot');
    await createRegistry('rot', { host: 'rot.example.com' });
    const tokenSecret = () => core.readNamespacedSecret({ name: 'rot-token', namespace: ns });
    const kidOf = (s: V1Secret) => Buffer.from(s.data!['signing.kid']!, 'base64').toString();
    const jwksKids = (s: V1Secret) => JSON.parse(Buffer.from(s.data!['verification.jwks']!, 'base64').toString()).keys.map((k: { kid: string }) => k.kid);
    const first = await waitFor('token Secret', tokenSecret);
    await waitFor('Deployment', () => apps.readNamespacedDeployment({ name: 'rot', namespace: ns }));
    await markDeploymentAvailable(kc, ns, 'rot');
    await waitFor('Ready', async () => condition(await getRegistry('rot'), 'Ready')?.status === 'True');
    const sum = async () => (await apps.readNamespacedDeployment({ name: 'rot', namespace: ns })).spec!.template.metadata!.annotations![CHECKSUM_ANNOTATION];
    const sumBefore = await sum();

    await custom.patchNamespacedCustomObject(
      { ...group, namespace: ns, name: 'rot', body: { spec: { rotation: { tokenSigningKey: 'r1' } } } },
      setHeaderOptions('Content-Type', 'application/merge-patch+json'),
    );
    const phase1 = await waitFor('new verification key', async () => {
      const s = await tokenSecret();
      return jwksKids(s).length === 2 ? s : undefined;
    });
    assert.equal(kidOf(phase1), kidOf(first), 'signing stays on the old key until every replica has the new one');
    const rotating = await waitFor('Reconciling RotatingTokenKey', async () => {
      const r = await getRegistry('rot');
      return condition(r, 'Reconciling')?.reason === 'RotatingTokenKey' ? r : undefined;
    });
    assert.equal(condition(rotating, 'Reconciling')!.status, 'True');
    assert.notEqual(await sum(), sumBefore, 'the Pods roll to learn the new key');

    await markDeploymentAvailable(kc, ns, 'rot');
    const phase2 = await waitFor('signing switched', async () => {
      const s = await tokenSecret();
      return kidOf(s) !== kidOf(first) ? s : undefined;
    });
    assert.deepEqual(jwksKids(phase2), [kidOf(phase2), kidOf(first)], 'the old key still verifies tokens it signed');
    await waitFor('rotation done', async () => {
      // Keep reporting the latest template available, as the kubelet would after the second roll.
      await markDeploymentAvailable(kc, ns, 'rot');
      const r = await getRegistry('rot');
      return condition(r, 'Reconciling')?.status === 'False' && r.status?.tokenSigningKeyID === kidOf(phase2);
    });
  });

  it('serves a certificate issued by cert-manager (issuerRef) or brought in a Secret (secretName)', async () => {
    // cert-manager is not installed: its Certificate CRD stands in for it, and the test issues
    // the certificate as cert-manager's controller would.
    await new KubeCluster(kc).apply({
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'certificates.cert-manager.io' },
      spec: {
        group: 'cert-manager.io',
        scope: 'Namespaced',
        names: { kind: 'Certificate', plural: 'certificates', singular: 'certificate', listKind: 'CertificateList' },
        versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
      },
    } as KubernetesObject);
    await waitFor('Certificate kind served', async () => {
      await custom.listNamespacedCustomObject({ group: 'cert-manager.io', version: 'v1', plural: 'certificates', namespace: ns });
      return true;
    });
    startOperator('op-cm');
    await createRegistry('issued', { host: 'issued.example.com', tls: { issuerRef: { name: 'corp-ca', kind: 'ClusterIssuer' } } });
    const cert = (await waitFor('Certificate', () =>
      custom.getNamespacedCustomObject({ group: 'cert-manager.io', version: 'v1', plural: 'certificates', namespace: ns, name: 'issued-tls' }),
    )) as { spec: { secretName: string; dnsNames: string[]; issuerRef: { name: string; kind: string } } };
    assert.equal(cert.spec.secretName, 'issued-tls');
    assert.deepEqual(cert.spec.issuerRef, { name: 'corp-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' });
    assert.ok(cert.spec.dnsNames.includes('issued.example.com') && cert.spec.dnsNames.includes(`issued.${ns}.svc`));
    await waitFor('CertificatePending', async () => condition(await getRegistry('issued'), 'Ready')?.reason === 'CertificatePending');
    assert.equal(await exists(() => core.readNamespacedSecret({ name: 'issued-ca', namespace: ns })), false, 'no CA is generated');

    const ca = await generateCA('corp');
    const leaf = await issueServingCertificate(ca, cert.spec.dnsNames);
    const tlsSecret = (name: string): V1Secret => ({ metadata: { name }, type: 'kubernetes.io/tls', stringData: { 'tls.crt': leaf.certPem, 'tls.key': leaf.keyPem, 'ca.crt': ca.certPem } });
    await core.createNamespacedSecret({ namespace: ns, body: tlsSecret('issued-tls') });
    const issued = await waitFor('CA bundle from the issued Secret', async () => {
      const r = await getRegistry('issued');
      return r.status?.caBundle === ca.certPem ? r : undefined;
    });
    assert.equal(condition(issued, 'Degraded')!.status, 'False');

    await core.createNamespacedSecret({ namespace: ns, body: tlsSecret('byo-tls') });
    await createRegistry('byo', { host: 'byo.example.com', tls: { secretName: 'byo-tls' } });
    const byo = await waitFor('BYO CA bundle', async () => {
      const r = await getRegistry('byo');
      return r.status?.caBundle === ca.certPem ? r : undefined;
    });
    assert.ok(byo.status!.observedGeneration);
    const d = await apps.readNamespacedDeployment({ name: 'byo', namespace: ns });
    assert.equal(d.spec!.template.spec!.volumes!.find((v) => v.name === 'tls')!.secret!.secretName, 'byo-tls');
    assert.equal(await exists(() => core.readNamespacedSecret({ name: 'byo-ca', namespace: ns })), false, 'no CA is generated');
  });

  it('with two replicas, only the leader reconciles, and the other takes over when it stops', async () => {
    const a = startOperator('replica-a', { leaseName: 'ha-test' });
    await waitFor('a leader', async () => a.elector.isLeader);
    const b = startOperator('replica-b', { leaseName: 'ha-test' });
    await createRegistry('ha', { host: 'ha.example.com' });
    await waitFor('leader reconciles', async () => (await getRegistry('ha')).status?.observedGeneration === 1);
    await sleep(1000);
    assert.equal(b.elector.isLeader, false);
    assert.equal(b.reconciles, 0, 'the follower reconciles nothing');

    const health = await fetch(`http://127.0.0.1:${a.healthPort}/metrics`);
    assert.match(await health.text(), /berth_operator_reconcile_total\{kind="Registry",result="success"\} \d+/);
    assert.equal((await fetch(`http://127.0.0.1:${b.healthPort}/healthz`)).status, 200);

    // Stop the leader without releasing the lease (as a crash would): b must wait for it to expire.
    const stoppedAt = Date.now();
    await a.stop({ releaseLease: false });
    await waitFor('b leads', async () => b.elector.isLeader, 10_000);
    const took = Date.now() - stoppedAt;
    assert.ok(took <= 3000 + 2000, `took over in ${took} ms; the lease is 3 s, renewed every 0.3 s`);
    const r = await getRegistry('ha');
    await custom.patchNamespacedCustomObject({ ...group, namespace: ns, name: 'ha', body: [{ op: 'replace', path: '/spec/logLevel', value: 'debug' }] }, setHeaderOptions('Content-Type', 'application/json-patch+json'));
    await waitFor('new leader reconciles', async () => (await getRegistry('ha')).status?.observedGeneration === (r.metadata.generation ?? 1) + 1);
    assert.ok(b.reconciles > 0);
  });
});
