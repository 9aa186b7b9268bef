/**
 * The operator's narrow view of the API server: read, server-side apply (with one field
 * manager), status through the status subresource, delete, list. Reconcilers depend on this
 * interface; the implementation is the real client (tests run it against a real kube-apiserver).
 */
import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  KubernetesObjectApi,
  loadYaml,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';

export const FIELD_MANAGER = 'berth-operator';

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
}

export interface Cluster {
  get<T extends KubernetesObject>(ref: ObjectRef): Promise<T | undefined>;
  /** Server-side apply, taking ownership of every field in obj (force: the operator is the authority). */
  apply<T extends KubernetesObject>(obj: T, options?: { dryRun?: boolean }): Promise<T>;
  /** Server-side apply of obj.status on the status subresource of a custom resource. */
  applyStatus(obj: { apiVersion: string; kind: string; metadata: { name: string; namespace: string }; status: unknown }): Promise<void>;
  /** JSON merge patch (used for finalizers, where apply would fight the user's manager). */
  mergePatch<T extends KubernetesObject>(ref: ObjectRef, patch: unknown): Promise<T>;
  /** Deletes; false if it was already gone. */
  delete(ref: ObjectRef): Promise<boolean>;
  /** namespace '' lists every namespace (or a cluster-scoped kind). */
  list<T extends KubernetesObject>(apiVersion: string, kind: string, namespace: string, labelSelector?: string): Promise<T[]>;
  /** Records a Kubernetes Event on an object. */
  event(on: KubernetesObject, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void>;
}

export function isNotFound(err: unknown): boolean {
  return err instanceof ApiException && err.code === 404;
}

export function isConflict(err: unknown): boolean {
  return err instanceof ApiException && err.code === 409;
}

function header(ref: ObjectRef): KubernetesObject & { metadata: { name: string; namespace?: string } } {
  return {
    apiVersion: ref.apiVersion,
    kind: ref.kind,
    metadata: { name: ref.name, ...(ref.namespace ? { namespace: ref.namespace } : {}) },
  };
}

export class KubeCluster implements Cluster {
  private readonly objects: KubernetesObjectApi;
  private readonly custom: CustomObjectsApi;
  private readonly core: CoreV1Api;

  constructor(
    kc: KubeConfig,
    private readonly component = FIELD_MANAGER,
  ) {
    this.objects = KubernetesObjectApi.makeApiClient(kc);
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.core = kc.makeApiClient(CoreV1Api);
  }

  async get<T extends KubernetesObject>(ref: ObjectRef): Promise<T | undefined> {
    try {
      return (await this.objects.read(header(ref) as never)) as T;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async apply<T extends KubernetesObject>(obj: T, options: { dryRun?: boolean } = {}): Promise<T> {
    // The client serializes known kinds through its models, whose property names differ from
    // the wire names in a few places (JSONSchemaProps' `default` is `_default`, CEL rules are
    // `xKubernetesValidations`) and drops keys it does not know. Objects here are in wire
    // form, so they go through the client's own YAML loader into model form first.
    const model = loadYaml<T>(JSON.stringify(obj));
    return this.objects.patch(model, undefined, options.dryRun ? 'All' : undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
  }

  async applyStatus(obj: { apiVersion: string; kind: string; metadata: { name: string; namespace: string }; status: unknown }): Promise<void> {
    const [group, version] = obj.apiVersion.split('/') as [string, string];
    await this.custom.patchNamespacedCustomObjectStatus(
      {
        group,
        version,
        namespace: obj.metadata.namespace,
        plural: pluralOf(obj.kind),
        name: obj.metadata.name,
        body: { apiVersion: obj.apiVersion, kind: obj.kind, metadata: { name: obj.metadata.name, namespace: obj.metadata.namespace }, status: obj.status },
        fieldManager: FIELD_MANAGER,
        force: true,
      },
      setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
    );
  }

  async mergePatch<T extends KubernetesObject>(ref: ObjectRef, patch: unknown): Promise<T> {
    const head = header(ref);
    const p = patch as { metadata?: object };
    const body = { ...head, ...p, metadata: { ...(p.metadata ?? {}), ...head.metadata } } as KubernetesObject;
    return this.objects.patch(body, undefined, undefined, FIELD_MANAGER, undefined, PatchStrategy.MergePatch) as Promise<T>;
  }

  async delete(ref: ObjectRef): Promise<boolean> {
    try {
      await this.objects.delete(header(ref), undefined, undefined, undefined, undefined, 'Background');
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  async list<T extends KubernetesObject>(apiVersion: string, kind: string, namespace: string, labelSelector?: string): Promise<T[]> {
    const list = await this.objects.list<T>(apiVersion, kind, namespace || undefined, undefined, undefined, undefined, undefined, labelSelector);
    return list.items;
  }

  async event(on: KubernetesObject, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const namespace = on.metadata?.namespace ?? 'default';
    const now = new Date();
    await this.core.createNamespacedEvent({
      namespace,
      body: {
        metadata: { generateName: `${on.metadata?.name ?? 'object'}.`, namespace },
        involvedObject: {
          apiVersion: on.apiVersion,
          kind: on.kind,
          name: on.metadata?.name,
          namespace,
          uid: on.metadata?.uid,
          resourceVersion: on.metadata?.resourceVersion,
        },
        type,
        reason,
        message: message.slice(0, 1024),
        source: { component: this.component },
        reportingComponent: this.component,
        reportingInstance: process.env.HOSTNAME ?? this.component,
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      },
    });
  }
}

/** Plural resource names of the berth.dev kinds (the only custom resources with a status we write). */
export function pluralOf(kind: string): string {
  const plurals: Record<string, string> = { Registry: 'registries', Project: 'projects' };
  const plural = plurals[kind];
  if (!plural) throw new Error(`no plural known for kind ${kind}`);
  return plural;
}
