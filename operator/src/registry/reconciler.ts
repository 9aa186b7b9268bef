/**
 * Reconciles one Registry: generated secrets, then every child by server-side apply, then the
 * status. Children carry an ownerReference (so a real cluster's garbage collector removes
 * them too), but deletion is driven by the operator's finalizer: node-trust files must be
 * removed from every node before the DaemonSet goes, and then each child is deleted by name.
 * The data PersistentVolumeClaim is deliberately kept.
 */
import { isDeepStrictEqual } from 'node:util';
import type { KubernetesObject, V1ConfigMap, V1DaemonSet, V1Deployment, V1Secret } from '@kubernetes/client-node';
import { Value } from '@sinclair/typebox/value';
import type { Logger } from 'pino';
import { API_VERSION } from '../crds/definitions.ts';
import type { Registry, RegistryStatus } from '../crds/registry.ts';
import { RegistrySpecSchema } from '../crds/registry.ts';
import type { Cluster, ObjectRef } from '../kube/cluster.ts';
import { isNotFound } from '../kube/cluster.ts';
import { setConditions } from '../runtime/conditions.ts';
import type { Condition, ConditionInput } from '../runtime/conditions.ts';
import type { ReconcileResult, Reconciler } from '../runtime/controller.ts';
import { PENDING_ROTATION_ANNOTATION, reconcileMaterial } from './material.ts';
import type { ExistingMaterial } from './material.ts';
import { childNames, externalURL, FINALIZER, MANAGED_BY } from './names.ts';
import { renderChildren, sha256 } from './render.ts';
import type { DesiredChildren } from './render.ts';
import { daemonSetRolledOut, deploymentRolledOut } from './rollout.ts';

/** A problem the user must fix; becomes the Degraded condition and a Warning event. */
export class RegistryProblem extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export interface RegistryReconcilerOptions {
  cluster: Cluster;
  logger: Logger;
  /** Image of the node-trust writer (the operator's own image). */
  operatorImage: string;
  /** How long deletion waits for node-trust writers to remove their files. */
  nodeTrustCleanupTimeoutMs?: number;
  /** Requeue while waiting on a rollout, as a safety net besides the watches. */
  waitRequeueMs?: number;
}

const ref = (apiVersion: string, kind: string, namespace: string, name: string): ObjectRef => ({ apiVersion, kind, namespace, name });

export function parseKey(key: string): { namespace: string; name: string } {
  const [namespace, name] = key.split('/');
  if (!namespace || !name) throw new Error(`bad key ${key}`);
  return { namespace, name };
}

/** The Registry with every default the API server would apply (also for objects created before a default existed). */
export function withDefaults(reg: Registry): Registry {
  return { ...reg, spec: Value.Default(RegistrySpecSchema, structuredClone(reg.spec ?? {})) as Registry['spec'] };
}

export class RegistryReconciler implements Reconciler {
  readonly kind = 'Registry';

  constructor(private readonly options: RegistryReconcilerOptions) {}

  private get cluster(): Cluster {
    return this.options.cluster;
  }

  async reconcile(key: string): Promise<ReconcileResult | void> {
    const { namespace, name } = parseKey(key);
    const found = await this.cluster.get<Registry>(ref(API_VERSION, 'Registry', namespace, name));
    if (!found) return;
    const reg = withDefaults(found);
    if (reg.metadata.deletionTimestamp) return this.finalize(reg);
    await this.ensureFinalizer(reg);
    try {
      return await this.converge(reg);
    } catch (err) {
      if (err instanceof RegistryProblem) {
        await this.writeStatus(reg, {}, [
          { type: 'Ready', status: 'False', reason: err.reason, message: err.message },
          { type: 'Reconciling', status: 'False', reason: err.reason, message: 'waiting for the problem to be fixed' },
          { type: 'Degraded', status: 'True', reason: err.reason, message: err.message },
        ]);
        await this.event(reg, 'Warning', err.reason, err.message);
      }
      throw err;
    }
  }

  private async ensureFinalizer(reg: Registry): Promise<void> {
    const finalizers = reg.metadata.finalizers ?? [];
    if (finalizers.includes(FINALIZER)) return;
    await this.cluster.mergePatch(ref(API_VERSION, 'Registry', reg.metadata.namespace!, reg.metadata.name!), {
      metadata: { finalizers: [...finalizers, FINALIZER], resourceVersion: reg.metadata.resourceVersion },
    });
  }

  private async getSecret(namespace: string, name: string): Promise<V1Secret | undefined> {
    return this.cluster.get<V1Secret>(ref('v1', 'Secret', namespace, name));
  }

  /** Reads a Secret the user named, failing with a clear message when it or its key is missing. */
  private async userSecret(namespace: string, name: string, keys: string[], what: string): Promise<V1Secret> {
    const s = await this.getSecret(namespace, name);
    if (!s) throw new RegistryProblem('SecretNotFound', `Secret ${namespace}/${name} (${what}) does not exist`);
    const missing = keys.filter((k) => s.data?.[k] === undefined);
    if (missing.length) throw new RegistryProblem('SecretKeyMissing', `Secret ${namespace}/${name} (${what}) has no key ${missing.join(', ')}`);
    return s;
  }

  private async converge(reg: Registry): Promise<ReconcileResult> {
    const ns = reg.metadata.namespace!;
    const names = childNames(reg.metadata.name!);
    const spec = reg.spec;

    // Secrets the user provides: checked up front, and part of the checksum so a new password rolls the Pods.
    const userSecrets: Array<[V1Secret, string[]]> = [];
    if (spec.storage.s3) {
      const c = spec.storage.s3.credentialsSecret;
      userSecrets.push([await this.userSecret(ns, c.name, [c.accessKeyKey, c.secretKeyKey], 'S3 credentials'), [c.accessKeyKey, c.secretKeyKey]]);
    }
    if (spec.database.postgres) {
      const u = spec.database.postgres.urlSecret;
      userSecrets.push([await this.userSecret(ns, u.name, [u.key], 'Postgres URL'), [u.key]]);
    }
    if (spec.redis) {
      const u = spec.redis.urlSecret;
      userSecrets.push([await this.userSecret(ns, u.name, [u.key], 'Redis URL'), [u.key]]);
    }
    if (spec.adminPasswordSecret) {
      const a = spec.adminPasswordSecret;
      userSecrets.push([await this.userSecret(ns, a.name, [a.usernameKey, a.passwordKey], 'admin credentials'), [a.usernameKey, a.passwordKey]]);
    }
    const existing: ExistingMaterial = {
      ca: await this.getSecret(ns, names.caSecret),
      tls: await this.getSecret(ns, names.tlsSecret),
      token: await this.getSecret(ns, names.tokenSecret),
      admin: await this.getSecret(ns, names.adminSecret),
    };
    if (spec.tls.secretName) {
      existing.userTls = await this.userSecret(ns, spec.tls.secretName, ['tls.crt', 'tls.key'], 'TLS certificate');
      userSecrets.push([existing.userTls, ['tls.crt', 'tls.key', 'ca.crt']]);
    }
    if (spec.tls.issuerRef && existing.tls) userSecrets.push([existing.tls, ['tls.crt', 'tls.key', 'ca.crt']]);

    const deploymentRef = ref('apps/v1', 'Deployment', ns, names.deployment);
    const before = await this.cluster.get<V1Deployment>(deploymentRef);
    const material = await reconcileMaterial(reg, existing, { rolloutComplete: deploymentRolledOut(before) });
    for (const s of material.secrets) await this.cluster.apply(s);
    for (const change of material.changes) await this.event(reg, 'Normal', 'SecretsUpdated', change);

    const checksumParts: string[] = [];
    for (const s of material.secrets) checksumParts.push(s.metadata!.name!, JSON.stringify(s.data));
    for (const [s, keys] of userSecrets) checksumParts.push(s.metadata!.name!, ...keys.map((k) => `${k}=${s.data?.[k] ?? ''}`));

    const desired = renderChildren(reg, {
      tlsSecretName: material.tlsSecretName,
      caBundle: material.caBundle,
      secretsChecksum: sha256(...checksumParts),
      operatorImage: this.options.operatorImage,
      nodeTrustMode: 'sync',
    });
    const deployment = await this.applyChildren(reg, desired);

    const rolledOut = deploymentRolledOut(deployment);
    const tokenSecret = material.secrets.find((s) => s.metadata?.name === names.tokenSecret);
    const rotating = tokenSecret?.metadata?.annotations?.[PENDING_ROTATION_ANNOTATION] !== undefined;
    const ready = (deployment.status?.availableReplicas ?? 0) > 0 || spec.replicas === 0;
    const conditions: ConditionInput[] = [];
    if (!material.caBundle && spec.tls.issuerRef) {
      conditions.push({ type: 'Ready', status: 'False', reason: 'CertificatePending', message: 'waiting for cert-manager to issue the serving certificate' });
    } else if (rolledOut && ready) {
      conditions.push({ type: 'Ready', status: 'True', reason: 'Available', message: `${deployment.status?.availableReplicas ?? 0}/${spec.replicas} replicas available` });
    } else {
      conditions.push({
        type: 'Ready',
        status: 'False',
        reason: 'RolloutInProgress',
        message: `${deployment.status?.updatedReplicas ?? 0}/${spec.replicas} replicas updated, ${deployment.status?.availableReplicas ?? 0} available`,
      });
    }
    if (rotating) conditions.push({ type: 'Reconciling', status: 'True', reason: 'RotatingTokenKey', message: 'new token key published; signing switches once every replica has it' });
    else if (!rolledOut) conditions.push({ type: 'Reconciling', status: 'True', reason: 'RolloutInProgress', message: 'waiting for the Deployment rollout' });
    else conditions.push({ type: 'Reconciling', status: 'False', reason: 'Reconciled', message: 'every child matches the spec' });
    conditions.push({ type: 'Degraded', status: 'False', reason: 'AsExpected', message: 'no problem found' });

    await this.writeStatus(
      reg,
      {
        externalURL: externalURL(reg),
        caBundle: material.caBundle || undefined,
        readyReplicas: deployment.status?.readyReplicas ?? 0,
        tokenSigningKeyID: material.signingKeyId,
      },
      conditions,
    );
    return rolledOut && !rotating ? {} : { requeueAfterMs: this.options.waitRequeueMs ?? 15_000 };
  }

  /** Applies every desired child and deletes the ones the spec no longer asks for. Returns the Deployment as applied. */
  private async applyChildren(reg: Registry, desired: DesiredChildren): Promise<V1Deployment> {
    const ns = reg.metadata.namespace!;
    const names = childNames(reg.metadata.name!);
    await this.cluster.apply(desired.configMap);
    if (desired.pvc) {
      // A claim's spec is immutable once bound: create it once, then leave it alone.
      const pvcRef = ref('v1', 'PersistentVolumeClaim', ns, names.pvc);
      if (!(await this.cluster.get(pvcRef))) await this.cluster.apply(desired.pvc);
    }
    const deployment = await this.cluster.apply(desired.deployment);
    await this.cluster.apply(desired.service);
    await this.applyOrDelete(desired.ingress, ref('networking.k8s.io/v1', 'Ingress', ns, names.ingress));
    await this.applyOrDelete(desired.pdb, ref('policy/v1', 'PodDisruptionBudget', ns, names.pdb));
    if (desired.certificate) {
      try {
        await this.cluster.apply(desired.certificate);
      } catch (err) {
        if (isNotFound(err)) throw new RegistryProblem('CertManagerMissing', 'spec.tls.issuerRef needs cert-manager (the Certificate kind is not installed)');
        throw err;
      }
    }
    if (desired.nodeTrust && desired.nodeTrustConfig) {
      await this.cluster.apply(desired.nodeTrustConfig);
      await this.cluster.apply(desired.nodeTrust);
    } else {
      await this.retireNodeTrust(reg);
    }
    return deployment;
  }

  private async applyOrDelete(obj: KubernetesObject | undefined, at: ObjectRef): Promise<void> {
    if (obj) {
      await this.cluster.apply(obj);
      return;
    }
    const current = await this.cluster.get(at);
    if (current?.metadata?.labels?.['app.kubernetes.io/managed-by'] === MANAGED_BY) await this.cluster.delete(at);
  }

  /**
   * Switches the node-trust writers to remove mode and, once every node has run it (or the
   * timeout passed, e.g. nodes that are gone), deletes the DaemonSet. True when none is left.
   */
  private async retireNodeTrust(reg: Registry): Promise<boolean> {
    const ns = reg.metadata.namespace!;
    const names = childNames(reg.metadata.name!);
    const dsRef = ref('apps/v1', 'DaemonSet', ns, names.nodeTrust);
    const cmRef = ref('v1', 'ConfigMap', ns, names.nodeTrust);
    const ds = await this.cluster.get<V1DaemonSet>(dsRef);
    if (!ds) {
      await this.cluster.delete(cmRef);
      return true;
    }
    const cm = await this.cluster.get<V1ConfigMap>(cmRef);
    const removing = cm?.data?.['trust.json']?.includes('"mode": "remove"') ?? false;
    if (!removing) {
      const rendered = renderChildren(
        { ...reg, spec: { ...reg.spec, nodeTrust: { ...reg.spec.nodeTrust, enabled: true } } },
        { tlsSecretName: '', caBundle: '', secretsChecksum: '', operatorImage: this.options.operatorImage, nodeTrustMode: 'remove' },
      );
      await this.cluster.apply(rendered.nodeTrustConfig!);
      await this.cluster.apply(rendered.nodeTrust!);
      await this.event(reg, 'Normal', 'NodeTrustRemoving', 'node-trust writers are removing the registry CA from every node');
      return false;
    }
    const since = Date.parse(reg.metadata.deletionTimestamp ? String(reg.metadata.deletionTimestamp) : '') || Date.now();
    const timedOut = Date.now() - since > (this.options.nodeTrustCleanupTimeoutMs ?? 600_000);
    if (!daemonSetRolledOut(ds) && !timedOut) return false;
    if (!daemonSetRolledOut(ds)) await this.event(reg, 'Warning', 'NodeTrustCleanupTimeout', 'some nodes did not confirm removing the registry CA');
    await this.cluster.delete(dsRef);
    await this.cluster.delete(cmRef);
    return true;
  }

  private async finalize(reg: Registry): Promise<ReconcileResult | void> {
    if (!(reg.metadata.finalizers ?? []).includes(FINALIZER)) return;
    const ns = reg.metadata.namespace!;
    const names = childNames(reg.metadata.name!);
    if (!(await this.retireNodeTrust(reg))) return { requeueAfterMs: 3000 };
    const children: ObjectRef[] = [
      ref('apps/v1', 'Deployment', ns, names.deployment),
      ref('v1', 'Service', ns, names.service),
      ref('networking.k8s.io/v1', 'Ingress', ns, names.ingress),
      ref('policy/v1', 'PodDisruptionBudget', ns, names.pdb),
      ref('v1', 'ConfigMap', ns, names.config),
      ref('v1', 'Secret', ns, names.caSecret),
      ref('v1', 'Secret', ns, names.tokenSecret),
      ref('v1', 'Secret', ns, names.adminSecret),
    ];
    if (!reg.spec.tls.secretName) children.push(ref('v1', 'Secret', ns, names.tlsSecret));
    for (const child of children) {
      const current = await this.cluster.get(child);
      // Only what this Registry owns: a same-named object someone else made stays.
      if (current?.metadata?.ownerReferences?.some((o) => o.uid === reg.metadata.uid)) await this.cluster.delete(child);
    }
    if (reg.spec.tls.issuerRef) {
      try {
        await this.cluster.delete(ref('cert-manager.io/v1', 'Certificate', ns, names.certificate));
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    await this.cluster.mergePatch(ref(API_VERSION, 'Registry', ns, reg.metadata.name!), {
      metadata: { finalizers: (reg.metadata.finalizers ?? []).filter((f) => f !== FINALIZER), resourceVersion: reg.metadata.resourceVersion },
    });
    this.options.logger.info({ registry: `${ns}/${reg.metadata.name}` }, 'registry children removed');
  }

  private async writeStatus(reg: Registry, fields: Partial<RegistryStatus>, inputs: ConditionInput[]): Promise<void> {
    const generation = reg.metadata.generation;
    const conditions: Condition[] = setConditions(reg.status?.conditions as Condition[] | undefined, inputs, generation);
    const status: RegistryStatus = {
      ...(reg.status ?? {}),
      ...fields,
      observedGeneration: generation,
      conditions,
    };
    for (const k of Object.keys(status) as Array<keyof RegistryStatus>) if (status[k] === undefined) delete status[k];
    if (isDeepStrictEqual(status, reg.status)) return;
    const wasReady = reg.status?.conditions?.find((c) => c.type === 'Ready')?.status;
    const nowReady = conditions.find((c) => c.type === 'Ready');
    await this.cluster.applyStatus({
      apiVersion: API_VERSION,
      kind: 'Registry',
      metadata: { name: reg.metadata.name!, namespace: reg.metadata.namespace! },
      status,
    });
    if (nowReady && nowReady.status !== wasReady && nowReady.status === 'True') await this.event(reg, 'Normal', 'Ready', nowReady.message);
  }

  private async event(reg: Registry, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    try {
      await this.cluster.event(reg, type, reason, message);
    } catch (err) {
      this.options.logger.warn({ reason, err: (err as Error).message }, 'could not record an event');
    }
  }
}

