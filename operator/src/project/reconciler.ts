/**
 * Reconciles one Project through the registry's management API with the admin credentials
 * the operator holds: the project (public flag, quota at creation), members, robots, and the
 * pull secrets in the listed namespaces. Changes made behind the operator's back (through the
 * registry's API) are reverted at the next resync.
 *
 * Pull secrets come from a project robot with pull permission. Rotation never breaks a Pod:
 * a new robot is created and written to every namespace before the old robot is deleted.
 * The current pull robot's credentials live in a Secret next to the Project
 * (<project>-pull-robot), the source the namespace copies are written from.
 */
import type { V1Namespace, V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import { Value } from '@sinclair/typebox/value';
import type { Logger } from 'pino';
import { API_VERSION } from '../crds/definitions.ts';
import type { Project, ProjectStatus } from '../crds/project.ts';
import { ProjectSpecSchema } from '../crds/project.ts';
import type { Registry } from '../crds/registry.ts';
import type { Cluster, ObjectRef } from '../kube/cluster.ts';
import { setConditions } from '../runtime/conditions.ts';
import type { Condition, ConditionInput } from '../runtime/conditions.ts';
import type { ReconcileResult, Reconciler } from '../runtime/controller.ts';
import { decode } from '../registry/material.ts';
import { childNames, externalURL, FINALIZER, MANAGED_BY, registryHostPort } from '../registry/names.ts';
import { parseKey, RegistryProblem } from '../registry/reconciler.ts';
import { HttpManagementApi } from './management-api.ts';
import type { ManagementApi } from './management-api.ts';
import { diffMembers, dockerConfigJson, parseDuration, projectNameOf, pullRobotName, quotaBytes, rotationDue } from './plan.ts';

export const PROJECT_LABEL = 'berth.dev/project';
export const PROJECT_NAMESPACE_LABEL = 'berth.dev/project-namespace';
const RESYNC_MS = 5 * 60_000;

export interface ProjectReconcilerOptions {
  cluster: Cluster;
  logger: Logger;
  /** How to reach a Registry's management API; default: its Service, verified with its CA. */
  managementApi?: (reg: Registry, admin: { username: string; password: string }) => ManagementApi;
  now?: () => Date;
  /** Requeue while the Registry is not Ready. */
  waitRequeueMs?: number;
}

const ref = (apiVersion: string, kind: string, namespace: string, name: string): ObjectRef => ({ apiVersion, kind, namespace, name });

export function withProjectDefaults(p: Project): Project {
  return { ...p, spec: Value.Default(ProjectSpecSchema, structuredClone(p.spec ?? {})) as Project['spec'] };
}

/** The in-cluster address of a Registry's API. */
export function serviceURL(reg: Registry): string {
  const svc = childNames(reg.metadata.name!).service;
  return `https://${svc}.${reg.metadata.namespace}.svc:${reg.spec.service?.port ?? 443}`;
}

/** A label selector (matchLabels and matchExpressions) as the API's selector string. */
export function selectorString(selector: { matchLabels?: Record<string, string>; matchExpressions?: Array<{ key: string; operator: string; values?: string[] }> }): string {
  const parts = Object.entries(selector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of selector.matchExpressions ?? []) {
    if (e.operator === 'In') parts.push(`${e.key} in (${(e.values ?? []).join(',')})`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${(e.values ?? []).join(',')})`);
    else if (e.operator === 'Exists') parts.push(e.key);
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
  }
  return parts.join(',');
}

export class ProjectReconciler implements Reconciler {
  readonly kind = 'Project';

  constructor(private readonly options: ProjectReconcilerOptions) {}

  private get cluster(): Cluster {
    return this.options.cluster;
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }

  async reconcile(key: string): Promise<ReconcileResult | void> {
    const { namespace, name } = parseKey(key);
    const found = await this.cluster.get<Project>(ref(API_VERSION, 'Project', namespace, name));
    if (!found) return;
    const project = withProjectDefaults(found);
    if (project.metadata.deletionTimestamp) return this.finalize(project);
    const finalizers = project.metadata.finalizers ?? [];
    if (!finalizers.includes(FINALIZER)) {
      await this.cluster.mergePatch(ref(API_VERSION, 'Project', namespace, name), {
        metadata: { finalizers: [...finalizers, FINALIZER], resourceVersion: project.metadata.resourceVersion },
      });
    }
    try {
      return await this.converge(project);
    } catch (err) {
      if (err instanceof RegistryProblem) {
        await this.writeStatus(project, {}, [
          { type: 'Ready', status: 'False', reason: err.reason, message: err.message },
          { type: 'Reconciling', status: 'False', reason: err.reason, message: 'waiting for the problem to be fixed' },
          { type: 'Degraded', status: 'True', reason: err.reason, message: err.message },
        ]);
        await this.event(project, 'Warning', err.reason, err.message);
      }
      throw err;
    }
  }

  /** The Registry, its admin credentials and an API client; undefined while it is not Ready. */
  private async connect(project: Project): Promise<{ reg: Registry; api: ManagementApi; admin: string } | undefined> {
    const ns = project.metadata.namespace!;
    const reg = await this.cluster.get<Registry>(ref(API_VERSION, 'Registry', ns, project.spec.registryRef.name));
    if (!reg) throw new RegistryProblem('RegistryNotFound', `Registry ${ns}/${project.spec.registryRef.name} does not exist`);
    if (reg.status?.conditions?.find((c) => c.type === 'Ready')?.status !== 'True') return undefined;
    const adminRef = reg.spec.adminPasswordSecret;
    const secret = await this.cluster.get<V1Secret>(ref('v1', 'Secret', ns, adminRef?.name ?? childNames(reg.metadata.name!).adminSecret));
    const username = decode(secret, adminRef?.usernameKey ?? 'username');
    const password = decode(secret, adminRef?.passwordKey ?? 'password');
    if (!username || !password) throw new RegistryProblem('AdminCredentialsMissing', `the admin credentials of Registry ${reg.metadata.name} are not available`);
    const api = this.options.managementApi
      ? this.options.managementApi(reg, { username, password })
      : new HttpManagementApi({ baseURL: serviceURL(reg), username, password, ca: reg.status?.caBundle });
    return { reg, api, admin: username };
  }

  private async converge(project: Project): Promise<ReconcileResult> {
    const connection = await this.connect(project);
    if (!connection) {
      await this.writeStatus(project, {}, [
        { type: 'Ready', status: 'False', reason: 'RegistryNotReady', message: `waiting for Registry ${project.spec.registryRef.name} to be Ready` },
        { type: 'Reconciling', status: 'True', reason: 'RegistryNotReady', message: 'waiting for the registry' },
        { type: 'Degraded', status: 'False', reason: 'AsExpected', message: 'no problem found' },
      ]);
      return { requeueAfterMs: this.options.waitRequeueMs ?? 15_000 };
    }
    const { reg, api, admin } = connection;
    const spec = project.spec;
    const name = projectNameOf(spec, project.metadata.name!);

    let info = await api.getProject(name);
    if (!info) {
      await api.createProject(name, { public: spec.public, storageLimitBytes: quotaBytes(spec.storageQuota) });
      await this.event(project, 'Normal', 'ProjectCreated', `created project ${name} in Registry ${reg.metadata.name}`);
      info = await api.getProject(name);
      if (!info) throw new Error(`project ${name} not found right after creating it`);
    } else if (info.public !== spec.public) {
      await api.setProjectPublic(name, spec.public);
      await this.event(project, 'Normal', 'DriftReverted', `project ${name} public=${spec.public} restored`);
    }

    const changes = diffMembers(await api.listMembers(name), spec.members, [admin]);
    for (const m of changes.add) await api.addMember(name, m);
    for (const m of changes.update) await api.updateMember(name, m.id, m.roleId);
    for (const m of changes.remove) await api.removeMember(name, m.id);
    if (changes.add.length + changes.update.length + changes.remove.length > 0) {
      await this.event(project, 'Normal', 'MembersSynced', `members: +${changes.add.length} ~${changes.update.length} -${changes.remove.length}`);
    }

    const robots = await api.listRobots(info.projectId);
    for (const robot of spec.robots ?? []) {
      const fullName = `robot$${name}+${robot.name}`;
      const secretName = robot.secretName ?? `${name}-robot-${robot.name}`;
      const existing = robots.find((r) => r.name === fullName);
      const stored = await this.cluster.get<V1Secret>(ref('v1', 'Secret', project.metadata.namespace!, secretName));
      if (existing && stored && !existing.disabled) continue;
      // Missing, disabled, or its secret lost: the secret is shown only at creation, so recreate.
      if (existing) await api.deleteRobot(existing.id);
      const created = await api.createRobot(name, { name: robot.name, description: robot.description, durationDays: robot.durationDays, access: robot.permissions });
      await this.cluster.apply(this.ownedSecret(project, secretName, { username: created.name, password: created.secret }));
      await this.event(project, 'Normal', 'RobotCreated', `robot ${created.name} created; credentials in Secret ${secretName}`);
    }

    const status: Partial<ProjectStatus> = { projectId: info.projectId };
    if (spec.pullSecrets) Object.assign(status, await this.syncPullSecrets(project, reg, api, name, robots));
    else await this.removePullSecrets(project, []);

    await this.writeStatus(project, status, [
      { type: 'Ready', status: 'True', reason: 'Synced', message: `project ${name} matches the spec` },
      { type: 'Reconciling', status: 'False', reason: 'Reconciled', message: 'nothing left to do' },
      { type: 'Degraded', status: 'False', reason: 'AsExpected', message: 'no problem found' },
    ]);
    let next = RESYNC_MS;
    if (spec.pullSecrets?.rotationInterval && status.pullSecretRotatedAt) {
      const due = Date.parse(status.pullSecretRotatedAt) + parseDuration(spec.pullSecrets.rotationInterval) - this.now().getTime();
      next = Math.max(1000, Math.min(next, due));
    }
    return { requeueAfterMs: next };
  }

  private ownedSecret(project: Project, name: string, data: Record<string, string>, type = 'Opaque'): V1Secret {
    return {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name,
        namespace: project.metadata.namespace,
        labels: { 'app.kubernetes.io/managed-by': MANAGED_BY, [PROJECT_LABEL]: project.metadata.name!, [PROJECT_NAMESPACE_LABEL]: project.metadata.namespace! },
        ownerReferences: [{ apiVersion: API_VERSION, kind: 'Project', name: project.metadata.name!, uid: project.metadata.uid!, controller: true, blockOwnerDeletion: true }],
      },
      type,
      data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
    };
  }

  private async targetNamespaces(project: Project): Promise<string[]> {
    const ps = project.spec.pullSecrets!;
    const names = new Set(ps.namespaces ?? []);
    if (ps.namespaceSelector) {
      const selected = await this.cluster.list<V1Namespace>('v1', 'Namespace', '', selectorString(ps.namespaceSelector));
      for (const n of selected) names.add(n.metadata!.name!);
    }
    return [...names].sort();
  }

  private async syncPullSecrets(project: Project, reg: Registry, api: ManagementApi, name: string, robots: Awaited<ReturnType<ManagementApi['listRobots']>>): Promise<Partial<ProjectStatus>> {
    const ps = project.spec.pullSecrets!;
    const ns = project.metadata.namespace!;
    const stateName = `${project.metadata.name}-pull-robot`;
    const state = await this.cluster.get<V1Secret>(ref('v1', 'Secret', ns, stateName));
    let robotName = decode(state, 'username');
    let password = decode(state, 'password');
    let createdAt = decode(state, 'createdAt');
    let generation = Number(decode(state, 'generation') ?? '0');
    const current = robots.find((r) => r.name === robotName && !r.disabled);
    const previous = robotName ? robots.find((r) => r.name === robotName) : undefined;
    const rotate = !current || !password || rotationDue(createdAt, ps.rotationInterval, this.now());
    if (rotate) {
      generation += 1;
      const created = await api.createRobot(name, {
        name: pullRobotName(generation),
        description: `pull secret for ${ns}/${project.metadata.name}, managed by berth-operator`,
        durationDays: -1,
        access: [{ resource: 'repository', action: 'pull' }],
      });
      robotName = created.name;
      password = created.secret;
      createdAt = this.now().toISOString().replace(/\.\d+Z$/, 'Z');
      await this.cluster.apply(this.ownedSecret(project, stateName, { username: robotName, password, createdAt, generation: String(generation), robotId: String(created.id) }));
    }
    const namespaces = await this.targetNamespaces(project);
    const secretName = ps.secretName ?? `${reg.metadata.name}-${name}-pull`;
    const config = dockerConfigJson(registryHostPort(reg), robotName!, password!);
    for (const target of namespaces) {
      await this.cluster.apply({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: {
          name: secretName,
          namespace: target,
          labels: { 'app.kubernetes.io/managed-by': MANAGED_BY, [PROJECT_LABEL]: project.metadata.name!, [PROJECT_NAMESPACE_LABEL]: ns },
          annotations: { 'berth.dev/registry': externalURL(reg) },
        },
        type: 'kubernetes.io/dockerconfigjson',
        data: { '.dockerconfigjson': Buffer.from(config).toString('base64') },
      } as V1Secret);
      for (const saName of ps.serviceAccounts ?? []) await this.addPullSecret(target, saName, secretName);
    }
    await this.removePullSecrets(project, namespaces);
    // Only now, with every namespace holding the new credentials, the old robot goes.
    if (rotate && previous) {
      await api.deleteRobot(previous.id);
      await this.event(project, 'Normal', 'PullSecretRotated', `pull robot ${robotName} replaced ${previous.name} in ${namespaces.length} namespaces`);
    }
    // Pull robots left from interrupted rotations.
    for (const r of robots) {
      if (r.name.startsWith(`robot$${name}+k8s-pull-`) && r.name !== robotName && r.id !== previous?.id) await api.deleteRobot(r.id);
    }
    return { pullSecretNamespaces: namespaces, pullRobotName: robotName, pullSecretRotatedAt: createdAt };
  }

  private async addPullSecret(namespace: string, serviceAccount: string, secretName: string): Promise<void> {
    const sa = await this.cluster.get<V1ServiceAccount>(ref('v1', 'ServiceAccount', namespace, serviceAccount));
    if (!sa) return; // created later: the resync adds it then
    const current = sa.imagePullSecrets ?? [];
    if (current.some((s) => s.name === secretName)) return;
    await this.cluster.mergePatch(ref('v1', 'ServiceAccount', namespace, serviceAccount), {
      metadata: { resourceVersion: sa.metadata!.resourceVersion },
      imagePullSecrets: [...current, { name: secretName }],
    });
  }

  /** Deletes this Project's pull secrets outside keep (and their ServiceAccount references). */
  private async removePullSecrets(project: Project, keep: string[]): Promise<void> {
    const selector = `${PROJECT_LABEL}=${project.metadata.name},${PROJECT_NAMESPACE_LABEL}=${project.metadata.namespace}`;
    const secrets = await this.cluster.list<V1Secret>('v1', 'Secret', '', selector);
    for (const s of secrets) {
      if (s.type !== 'kubernetes.io/dockerconfigjson' || keep.includes(s.metadata!.namespace!)) continue;
      const namespace = s.metadata!.namespace!;
      for (const saName of project.spec.pullSecrets?.serviceAccounts ?? []) {
        const sa = await this.cluster.get<V1ServiceAccount>(ref('v1', 'ServiceAccount', namespace, saName));
        const rest = (sa?.imagePullSecrets ?? []).filter((x) => x.name !== s.metadata!.name);
        if (sa && rest.length !== (sa.imagePullSecrets ?? []).length) {
          await this.cluster.mergePatch(ref('v1', 'ServiceAccount', namespace, saName), { metadata: { resourceVersion: sa.metadata!.resourceVersion }, imagePullSecrets: rest });
        }
      }
      await this.cluster.delete(ref('v1', 'Secret', namespace, s.metadata!.name!));
    }
  }

  private async finalize(project: Project): Promise<void> {
    if (!(project.metadata.finalizers ?? []).includes(FINALIZER)) return;
    await this.removePullSecrets(project, []);
    if (project.spec.deletionPolicy === 'Delete') {
      let connection: Awaited<ReturnType<ProjectReconciler['connect']>>;
      try {
        connection = await this.connect(project);
      } catch {
        connection = undefined;
      }
      if (connection) {
        const name = projectNameOf(project.spec, project.metadata.name!);
        const info = await connection.api.getProject(name);
        if (info) {
          for (const r of await connection.api.listRobots(info.projectId)) await connection.api.deleteRobot(r.id);
          await connection.api.deleteProject(name);
        }
      } else {
        await this.event(project, 'Warning', 'RegistryUnavailable', 'the Registry is gone or not Ready: the project was not deleted from it');
      }
    }
    await this.cluster.mergePatch(ref(API_VERSION, 'Project', project.metadata.namespace!, project.metadata.name!), {
      metadata: { finalizers: (project.metadata.finalizers ?? []).filter((f) => f !== FINALIZER), resourceVersion: project.metadata.resourceVersion },
    });
  }

  private async writeStatus(project: Project, fields: Partial<ProjectStatus>, inputs: ConditionInput[]): Promise<void> {
    const generation = project.metadata.generation;
    const conditions: Condition[] = setConditions(project.status?.conditions as Condition[] | undefined, inputs, generation);
    const status: ProjectStatus = { ...(project.status ?? {}), ...fields, observedGeneration: generation, conditions };
    for (const k of Object.keys(status) as Array<keyof ProjectStatus>) if (status[k] === undefined) delete status[k];
    if (JSON.stringify(status) === JSON.stringify(project.status)) return;
    await this.cluster.applyStatus({ apiVersion: API_VERSION, kind: 'Project', metadata: { name: project.metadata.name!, namespace: project.metadata.namespace! }, status });
  }

  private async event(project: Project, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    try {
      await this.cluster.event(project, type, reason, message);
    } catch (err) {
      this.options.logger.warn({ reason, err: (err as Error).message }, 'could not record an event');
    }
  }
}
