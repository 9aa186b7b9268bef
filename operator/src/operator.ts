/**
 * The composition root of the operator: builds the cluster client, work queue, watches,
 * reconcilers, leader election and the health server from one options object. Nothing here
 * is a module-level singleton, so tests start several operators in one process.
 */
import { ApiextensionsV1Api, AppsV1Api, CoreV1Api, CustomObjectsApi, NetworkingV1Api, PolicyV1Api } from '@kubernetes/client-node';
import type { KubeConfig, KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Server } from 'node:http';
import { API_VERSION, GROUP, VERSION } from './crds/definitions.ts';
import type { Registry } from './crds/registry.ts';
import { KubeCluster } from './kube/cluster.ts';
import type { Cluster } from './kube/cluster.ts';
import { Controller } from './runtime/controller.ts';
import { RestartingInformer } from './runtime/informer.ts';
import { LeaderElector } from './runtime/leader-election.ts';
import { OperatorMetrics } from './runtime/metrics.ts';
import { startHealthServer } from './runtime/health-server.ts';
import { WorkQueue } from './runtime/work-queue.ts';
import { MANAGED_BY, REGISTRY_LABEL } from './registry/names.ts';
import { RegistryReconciler } from './registry/reconciler.ts';
import type { Project } from './crds/project.ts';
import { PROJECT_LABEL, PROJECT_NAMESPACE_LABEL, ProjectReconciler } from './project/reconciler.ts';
import type { ProjectReconcilerOptions } from './project/reconciler.ts';

export interface OperatorOptions {
  kc: KubeConfig;
  logger: Logger;
  /** Unique name of this replica (the Pod name). */
  identity: string;
  /** Namespace of the leader Lease (the operator's own namespace). */
  leaseNamespace: string;
  leaseName?: string;
  leaseDurationSeconds?: number;
  leaseRetryMs?: number;
  /** Image used for the node-trust DaemonSet. */
  operatorImage: string;
  /** Port of /healthz, /readyz, /metrics; 0 picks a free one; undefined: no server. */
  healthPort?: number;
  healthHost?: string;
  /** Every Registry is reconciled again this often, changed or not. */
  resyncMs?: number;
  workers?: number;
  nodeTrustCleanupTimeoutMs?: number;
  /** How to reach a Registry's management API (default: its Service, verified with its CA). */
  managementApi?: ProjectReconcilerOptions['managementApi'];
}

export class Operator {
  readonly metrics = new OperatorMetrics();
  readonly cluster: Cluster;
  readonly elector: LeaderElector;
  private readonly registries: RestartingInformer<Registry>;
  private readonly projects: RestartingInformer<Project>;
  private readonly children: RestartingInformer<KubernetesObject>[] = [];
  private controller: Controller | undefined;
  private projectController: Controller | undefined;
  private resync: NodeJS.Timeout | undefined;
  private health: Server | undefined;
  /** Port of the health server once started. */
  healthPort: number | undefined;
  /** Reconciles run by this replica (tests check that a follower does none). */
  reconciles = 0;

  constructor(private readonly options: OperatorOptions) {
    const { kc, logger } = options;
    this.cluster = new KubeCluster(kc);
    const custom = kc.makeApiClient(CustomObjectsApi);
    this.registries = new RestartingInformer<Registry>({
      kc,
      path: `/apis/${GROUP}/${VERSION}/registries`,
      list: () => custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: 'registries' }) as Promise<KubernetesListObject<Registry>>,
      onObject: (obj) => {
        this.enqueue(`${obj.metadata.namespace}/${obj.metadata.name}`);
        // A Registry turning Ready (or changing) matters to its Projects.
        for (const p of this.projects.list(obj.metadata.namespace)) {
          if (p.spec?.registryRef?.name === obj.metadata.name) this.enqueueProject(`${p.metadata.namespace}/${p.metadata.name}`);
        }
      },
      logger,
    });
    this.projects = new RestartingInformer<Project>({
      kc,
      path: `/apis/${GROUP}/${VERSION}/projects`,
      list: () => custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: 'projects' }) as Promise<KubernetesListObject<Project>>,
      onObject: (obj) => this.enqueueProject(`${obj.metadata.namespace}/${obj.metadata.name}`),
      logger,
    });
    // Changes to children (including hand edits) bring their Registry back to the queue.
    const selector = `app.kubernetes.io/managed-by=${MANAGED_BY}`;
    const apps = kc.makeApiClient(AppsV1Api);
    const core = kc.makeApiClient(CoreV1Api);
    const net = kc.makeApiClient(NetworkingV1Api);
    const policy = kc.makeApiClient(PolicyV1Api);
    const watch = (path: string, list: () => Promise<unknown>) =>
      this.children.push(
        new RestartingInformer<KubernetesObject>({
          kc,
          path,
          labelSelector: selector,
          list: list as () => Promise<KubernetesListObject<KubernetesObject>>,
          onObject: (obj) => {
            const labels = obj.metadata?.labels ?? {};
            const owner = labels[REGISTRY_LABEL];
            if (owner) this.enqueue(`${obj.metadata!.namespace}/${owner}`);
            // Pull secrets live in other namespaces: the labels name their Project.
            if (labels[PROJECT_LABEL] && labels[PROJECT_NAMESPACE_LABEL]) this.enqueueProject(`${labels[PROJECT_NAMESPACE_LABEL]}/${labels[PROJECT_LABEL]}`);
          },
          logger,
        }),
      );
    watch('/apis/apps/v1/deployments', () => apps.listDeploymentForAllNamespaces({ labelSelector: selector }));
    watch('/apis/apps/v1/daemonsets', () => apps.listDaemonSetForAllNamespaces({ labelSelector: selector }));
    watch('/api/v1/secrets', () => core.listSecretForAllNamespaces({ labelSelector: selector }));
    watch('/api/v1/configmaps', () => core.listConfigMapForAllNamespaces({ labelSelector: selector }));
    watch('/api/v1/services', () => core.listServiceForAllNamespaces({ labelSelector: selector }));
    watch('/apis/networking.k8s.io/v1/ingresses', () => net.listIngressForAllNamespaces({ labelSelector: selector }));
    watch('/apis/policy/v1/poddisruptionbudgets', () => policy.listPodDisruptionBudgetForAllNamespaces({ labelSelector: selector }));

    this.elector = new LeaderElector({
      kc,
      namespace: options.leaseNamespace,
      name: options.leaseName ?? 'berth-operator',
      identity: options.identity,
      leaseDurationSeconds: options.leaseDurationSeconds,
      retryPeriodMs: options.leaseRetryMs,
      logger,
      onStartedLeading: () => this.lead(),
      onStoppedLeading: () => this.follow(),
    });
  }

  private enqueue(key: string): void {
    this.controller?.queue.add(key);
  }

  private enqueueProject(key: string): void {
    this.projectController?.queue.add(key);
  }

  /** Starts the health server and campaigns for leadership; reconciling starts once leader. */
  async start(): Promise<void> {
    if (this.options.healthPort !== undefined) {
      const started = await startHealthServer(this.options.healthPort, this.options.healthHost ?? '0.0.0.0', {
        metrics: this.metrics.registry,
        ready: [() => (this.elector.isLeader && !this.registries.synced ? 'registry watch not synced' : undefined)],
      });
      this.health = started.server;
      this.healthPort = started.port;
    }
    this.elector.start();
  }

  private async lead(): Promise<void> {
    this.metrics.setLeader(true);
    const reconciler = new RegistryReconciler({
      cluster: this.cluster,
      logger: this.options.logger.child({ controller: 'registry' }),
      operatorImage: this.options.operatorImage,
      nodeTrustCleanupTimeoutMs: this.options.nodeTrustCleanupTimeoutMs,
    });
    const counted = { kind: reconciler.kind, reconcile: (key: string) => (this.reconciles++, reconciler.reconcile(key)) };
    this.controller = new Controller(counted, new WorkQueue(), this.options.logger, this.metrics, this.options.workers ?? 2);
    this.controller.start();
    const projects = new ProjectReconciler({
      cluster: this.cluster,
      logger: this.options.logger.child({ controller: 'project' }),
      managementApi: this.options.managementApi,
    });
    const countedProjects = { kind: projects.kind, reconcile: (key: string) => (this.reconciles++, projects.reconcile(key)) };
    this.projectController = new Controller(countedProjects, new WorkQueue(), this.options.logger, this.metrics, this.options.workers ?? 2);
    this.projectController.start();
    await this.registries.start();
    await this.projects.start();
    await Promise.all(this.children.map((i) => i.start()));
    const resyncMs = this.options.resyncMs ?? 300_000;
    this.resync = setInterval(() => {
      for (const r of this.registries.list()) this.enqueue(`${r.metadata.namespace}/${r.metadata.name}`);
      for (const p of this.projects.list()) this.enqueueProject(`${p.metadata.namespace}/${p.metadata.name}`);
    }, resyncMs);
    this.resync.unref?.();
  }

  private async follow(): Promise<void> {
    this.metrics.setLeader(false);
    if (this.resync) clearInterval(this.resync);
    await this.registries.stop();
    await this.projects.stop();
    await Promise.all(this.children.map((i) => i.stop()));
    await this.controller?.stop();
    await this.projectController?.stop();
    this.controller = undefined;
    this.projectController = undefined;
  }

  /** Stops; releaseLease false leaves the Lease to expire, as a crashed replica would. */
  async stop(options: { releaseLease?: boolean } = {}): Promise<void> {
    await this.elector.stop(options);
    await this.follow();
    await new Promise<void>((resolve) => (this.health ? this.health.close(() => resolve()) : resolve()));
  }
}

/** Installs (or updates) the CRDs: used by tests and by `berth-operator install-crds`. */
export async function installCrds(kc: KubeConfig, crds: Array<{ metadata?: { name?: string } }>): Promise<void> {
  const api = kc.makeApiClient(ApiextensionsV1Api);
  const cluster = new KubeCluster(kc);
  for (const crd of crds) await cluster.apply(crd as KubernetesObject);
  // Wait until the API server serves them.
  for (const crd of crds) {
    for (let i = 0; i < 100; i++) {
      const got = await api.readCustomResourceDefinition({ name: crd.metadata!.name! });
      if (got.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export { API_VERSION };
