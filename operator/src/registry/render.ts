/**
 * The desired state of every child of a Registry, as plain objects: a pure function of the
 * Registry, the names of its secrets and a checksum of their content. Deterministic (no
 * clocks, no randomness, sorted keys), so applying it twice changes nothing.
 */
import { createHash } from 'node:crypto';
import type {
  KubernetesObject,
  V1ConfigMap,
  V1DaemonSet,
  V1Deployment,
  V1EnvVar,
  V1Ingress,
  V1PersistentVolumeClaim,
  V1PodDisruptionBudget,
  V1Service,
  V1Volume,
  V1VolumeMount,
} from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { REGISTRY_NODE_FLAGS } from '../../../registry/src/runtime/node-flags.ts';
import type { Registry } from '../crds/registry.ts';
import { childNames, externalURL, ownerReference, registryHostPort, registryLabels, selectorLabels, servingNames } from './names.ts';

export const CONFIG_DIR = '/etc/berth/config';
export const TLS_DIR = '/etc/berth/tls';
/** Token keys (signing.key, signing.kid, verification.jwks) and admin credentials, for the auth section. */
export const AUTH_DIR = '/etc/berth/auth';
export const DATA_DIR = '/var/lib/berth';
export const REGISTRY_PORT = 5000;
export const CHECKSUM_ANNOTATION = 'berth.dev/config-checksum';
export const NODE_TRUST_FILE = 'trust.json';

export interface RenderInputs {
  /** Secret holding tls.crt/tls.key. */
  tlsSecretName: string;
  /** PEM bundle nodes and clients must trust. */
  caBundle: string;
  /** sha256 over the content of every Secret and ConfigMap the Pod reads. */
  secretsChecksum: string;
  /** Image of the node-trust writer (the operator image) unless spec.nodeTrust.image. */
  operatorImage: string;
  /** 'remove' while the Registry is being deleted: writers remove what they wrote. */
  nodeTrustMode: 'sync' | 'remove';
}

export interface DesiredChildren {
  configMap: V1ConfigMap;
  deployment: V1Deployment;
  service: V1Service;
  /** undefined: must not exist (delete if present). */
  ingress?: V1Ingress;
  pdb?: V1PodDisruptionBudget;
  pvc?: V1PersistentVolumeClaim;
  nodeTrustConfig?: V1ConfigMap;
  nodeTrust?: V1DaemonSet;
  certificate?: KubernetesObject;
}

export function sha256(...parts: string[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex');
}

function meta(reg: Registry, name: string, component: string, extra: { annotations?: Record<string, string> } = {}) {
  return {
    name,
    namespace: reg.metadata.namespace!,
    labels: registryLabels(reg, component),
    ...(extra.annotations && Object.keys(extra.annotations).length ? { annotations: extra.annotations } : {}),
    ownerReferences: [ownerReference(reg)],
  };
}

export function usesEmbeddedBackends(reg: Registry): boolean {
  return !reg.spec.storage.s3 || !reg.spec.database.postgres || !reg.spec.redis;
}

const MiB = 1024 * 1024;
/** The registry's own default page-cache window, in MiB. */
const DEFAULT_PAGE_CACHE_MIB = 1024;

/**
 * The filesystem driver's page-cache window: the Registry's own value, else half the
 * container's memory limit (the page cache is charged to the container, and the process needs
 * the rest), at most the registry's default; without a limit, the registry's default.
 */
function pageCacheSetting(reg: Registry): { pageCacheMiB?: number } {
  const explicit = reg.spec.storage.filesystem?.pageCacheMiB;
  if (explicit !== undefined) return { pageCacheMiB: explicit };
  const limit = memoryBytes(reg.spec.resources?.limits?.memory);
  return limit === undefined ? {} : { pageCacheMiB: Math.min(DEFAULT_PAGE_CACHE_MIB, Math.floor(limit / 2 / MiB)) };
}

const QUANTITY_MULTIPLIERS: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/**
 * Bytes of a Kubernetes memory quantity ("512Mi", "1.5Gi", "2G", "1e9", "1073741824");
 * undefined when absent or not a byte quantity (client-node does not export its parser, which
 * also refuses decimals with a suffix).
 */
export function memoryBytes(quantity: string | number | undefined): number | undefined {
  if (quantity === undefined) return undefined;
  if (typeof quantity === 'number') return quantity;
  const match = /^(\d+(?:\.\d+)?)(?:e(\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E))?$/.exec(quantity.trim());
  if (!match) return undefined;
  const [, number, exponent, suffix] = match;
  return Number(number) * (exponent !== undefined ? 10 ** Number(exponent) : QUANTITY_MULTIPLIERS[suffix ?? '']!);
}

/** The registry configuration file (no secrets: those come from the environment). */
export function registryConfig(reg: Registry): Record<string, unknown> {
  const s3 = reg.spec.storage.s3;
  const pg = reg.spec.database.postgres;
  const redis = reg.spec.redis;
  return {
    http: {
      address: '0.0.0.0',
      port: REGISTRY_PORT,
      externalURL: externalURL(reg),
      tls: { certFile: `${TLS_DIR}/tls.crt`, keyFile: `${TLS_DIR}/tls.key` },
    },
    storage: s3
      ? {
          driver: 's3',
          s3: {
            endPoint: s3.endPoint,
            ...(s3.port ? { port: s3.port } : {}),
            useSSL: s3.useSSL,
            bucket: s3.bucket,
            ...(s3.region ? { region: s3.region } : {}),
            ...(s3.prefix ? { prefix: s3.prefix } : {}),
          },
        }
      : { driver: 'filesystem', filesystem: { rootDirectory: `${DATA_DIR}/blobs`, ...pageCacheSetting(reg) } },
    database: pg
      ? { driver: 'postgres', postgres: { ...(pg.poolSize ? { poolSize: pg.poolSize } : {}) } }
      : { driver: 'pglite', pglite: { dataDirectory: `${DATA_DIR}/metadata` } },
    cache: redis ? { driver: 'redis', redis: { ...(redis.keyPrefix ? { keyPrefix: redis.keyPrefix } : {}) } } : { driver: 'memory' },
    // Token keys from the mounted <name>-token Secret; the initial admin from the environment.
    auth: {
      enabled: true,
      signingKeyFile: `${AUTH_DIR}/token/signing.key`,
      verificationKeyFiles: [`${AUTH_DIR}/token/verification.jwks`],
    },
    log: { level: reg.spec.logLevel },
  };
}

/** Credentials reach the registry only as environment variables read from Secrets. */
export function registryEnv(reg: Registry): V1EnvVar[] {
  // The same node flags as npm start (whatever the image's entrypoint passes).
  const env: V1EnvVar[] = [{ name: 'NODE_OPTIONS', value: REGISTRY_NODE_FLAGS.join(' ') }];
  const fromSecret = (name: string, secret: string, key: string): V1EnvVar => ({
    name,
    valueFrom: { secretKeyRef: { name: secret, key } },
  });
  const s3 = reg.spec.storage.s3;
  if (s3) {
    env.push(fromSecret('BERTH_STORAGE_S3_ACCESSKEY', s3.credentialsSecret.name, s3.credentialsSecret.accessKeyKey));
    env.push(fromSecret('BERTH_STORAGE_S3_SECRETKEY', s3.credentialsSecret.name, s3.credentialsSecret.secretKeyKey));
  }
  const pg = reg.spec.database.postgres;
  if (pg) env.push(fromSecret('BERTH_DATABASE_POSTGRES_URL', pg.urlSecret.name, pg.urlSecret.key));
  if (reg.spec.redis) env.push(fromSecret('BERTH_CACHE_REDIS_URL', reg.spec.redis.urlSecret.name, reg.spec.redis.urlSecret.key));
  const admin = reg.spec.adminPasswordSecret;
  const adminSecret = admin?.name ?? childNames(reg.metadata.name!).adminSecret;
  env.push(fromSecret('BERTH_AUTH_ADMIN_USERNAME', adminSecret, admin?.usernameKey ?? 'username'));
  env.push(fromSecret('BERTH_AUTH_ADMIN_PASSWORD', adminSecret, admin?.passwordKey ?? 'password'));
  return env;
}

export function renderChildren(reg: Registry, inputs: RenderInputs): DesiredChildren {
  const names = childNames(reg.metadata.name!);
  const ns = reg.metadata.namespace!;
  const configYaml = stringify(registryConfig(reg), { sortMapEntries: true });
  const configMap: V1ConfigMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: meta(reg, names.config, 'config'),
    data: { 'config.yaml': configYaml },
  };
  const embedded = usesEmbeddedBackends(reg);
  const filesystem = !reg.spec.storage.s3;

  const volumes: V1Volume[] = [
    { name: 'config', configMap: { name: names.config } },
    { name: 'tls', secret: { secretName: inputs.tlsSecretName } },
    {
      name: 'auth',
      secret: {
        secretName: names.tokenSecret,
        items: ['signing.key', 'signing.kid', 'verification.jwks'].map((k) => ({ key: k, path: `token/${k}` })),
      },
    },
    { name: 'tmp', emptyDir: {} },
  ];
  const mounts: V1VolumeMount[] = [
    { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
    { name: 'tls', mountPath: TLS_DIR, readOnly: true },
    { name: 'auth', mountPath: AUTH_DIR, readOnly: true },
    { name: 'tmp', mountPath: '/tmp' },
  ];
  if (embedded) {
    volumes.push({ name: 'data', persistentVolumeClaim: { claimName: names.pvc } });
    mounts.push({ name: 'data', mountPath: DATA_DIR });
  }

  const podLabels = { ...registryLabels(reg, 'registry') };
  const deployment: V1Deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(reg, names.deployment, 'registry'),
    spec: {
      replicas: reg.spec.replicas,
      selector: { matchLabels: selectorLabels(reg, 'registry') },
      // Embedded backends sit on a ReadWriteOnce volume that one Pod at a time may hold.
      strategy: embedded ? { type: 'Recreate' } : { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: {
          labels: podLabels,
          annotations: { [CHECKSUM_ANNOTATION]: sha256(configYaml, inputs.secretsChecksum) },
        },
        spec: {
          enableServiceLinks: false,
          automountServiceAccountToken: false,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 65532,
            runAsGroup: 65532,
            fsGroup: 65532,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [
            {
              name: 'registry',
              image: reg.spec.image,
              imagePullPolicy: reg.spec.imagePullPolicy,
              args: ['--config', `${CONFIG_DIR}/config.yaml`],
              env: registryEnv(reg),
              ports: [{ name: 'https', containerPort: REGISTRY_PORT, protocol: 'TCP' }],
              livenessProbe: {
                httpGet: { path: '/api/v2.0/ping', port: 'https', scheme: 'HTTPS' },
                periodSeconds: 10,
                timeoutSeconds: 3,
                failureThreshold: 6,
              },
              readinessProbe: {
                httpGet: { path: '/api/v2.0/health', port: 'https', scheme: 'HTTPS' },
                periodSeconds: 5,
                timeoutSeconds: 3,
                failureThreshold: 3,
              },
              ...(reg.spec.resources ? { resources: reg.spec.resources } : {}),
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ['ALL'] },
              },
              volumeMounts: mounts,
            },
          ],
          volumes,
        },
      },
    },
  };

  const service: V1Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(reg, names.service, 'registry', { annotations: reg.spec.service.annotations }),
    spec: {
      type: reg.spec.service.type,
      selector: selectorLabels(reg, 'registry'),
      ports: [{ name: 'https', port: reg.spec.service.port, targetPort: 'https', protocol: 'TCP' }],
    },
  };

  const out: DesiredChildren = { configMap, deployment, service };

  if (reg.spec.ingress) {
    const ing = reg.spec.ingress;
    out.ingress = {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: meta(reg, names.ingress, 'registry', {
        annotations: {
          // The registry speaks TLS itself and takes blobs of any size.
          'nginx.ingress.kubernetes.io/backend-protocol': 'HTTPS',
          'nginx.ingress.kubernetes.io/proxy-body-size': '0',
          ...(ing.annotations ?? {}),
        },
      }),
      spec: {
        ...(ing.className ? { ingressClassName: ing.className } : {}),
        ...(ing.tls ? { tls: [{ hosts: [reg.spec.host], secretName: inputs.tlsSecretName }] } : {}),
        rules: [
          {
            host: reg.spec.host,
            http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: names.service, port: { name: 'https' } } } }] },
          },
        ],
      },
    };
  }

  if (reg.spec.replicas > 1) {
    out.pdb = {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: meta(reg, names.pdb, 'registry'),
      spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels(reg, 'registry') } },
    };
  }

  if (filesystem || embedded) {
    const fs = reg.spec.storage.filesystem;
    // No ownerReference: the data outlives the Registry unless deleted on purpose.
    out.pvc = {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: names.pvc, namespace: ns, labels: registryLabels(reg, 'data') },
      spec: {
        accessModes: ['ReadWriteOnce'],
        resources: { requests: { storage: fs?.size ?? '20Gi' } },
        ...(fs?.storageClassName ? { storageClassName: fs.storageClassName } : {}),
      },
    };
  }

  if (reg.spec.tls.issuerRef) {
    out.certificate = {
      apiVersion: 'cert-manager.io/v1',
      kind: 'Certificate',
      metadata: meta(reg, names.certificate, 'tls'),
      spec: {
        secretName: names.tlsSecret,
        dnsNames: servingNames(reg),
        issuerRef: reg.spec.tls.issuerRef,
        privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
      },
    } as KubernetesObject;
  }

  if (reg.spec.nodeTrust.enabled) {
    Object.assign(out, renderNodeTrust(reg, inputs));
  }
  return out;
}

/** What the node-trust writer reads (the ConfigMap key trust.json). */
export interface NodeTrustConfig {
  /** Identifies what this writer owns on the node (marker files). */
  owner: string;
  /** Directory name under certs.d: host or host:port. */
  hostPort: string;
  serverURL: string;
  targets: { containerd: boolean; docker: boolean; containers: boolean };
  caBundle: string;
  mode: 'sync' | 'remove';
}

export function nodeTrustConfig(reg: Registry, caBundle: string, mode: 'sync' | 'remove'): NodeTrustConfig {
  const nt = reg.spec.nodeTrust;
  return {
    owner: `${reg.metadata.namespace}/${reg.metadata.name}/${reg.metadata.uid}`,
    hostPort: registryHostPort(reg),
    serverURL: externalURL(reg),
    targets: { containerd: nt.containerd, docker: nt.docker, containers: nt.containers },
    caBundle,
    mode,
  };
}

export const HOST_ROOT = '/host';
export const RUNTIME_DIRS = {
  containerd: '/etc/containerd/certs.d',
  docker: '/etc/docker/certs.d',
  containers: '/etc/containers/certs.d',
} as const;

function renderNodeTrust(reg: Registry, inputs: RenderInputs): Pick<DesiredChildren, 'nodeTrust' | 'nodeTrustConfig'> {
  const names = childNames(reg.metadata.name!);
  const nt = reg.spec.nodeTrust;
  const config = nodeTrustConfig(reg, inputs.caBundle, inputs.nodeTrustMode);
  const configJson = JSON.stringify(config, null, 2);
  const targets = (Object.keys(RUNTIME_DIRS) as Array<keyof typeof RUNTIME_DIRS>).filter((t) => config.targets[t]);
  const nodeTrustConfigMap: V1ConfigMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: meta(reg, names.nodeTrust, 'node-trust'),
    data: { [NODE_TRUST_FILE]: configJson },
  };
  const daemonSet: V1DaemonSet = {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: meta(reg, names.nodeTrust, 'node-trust'),
    spec: {
      selector: { matchLabels: selectorLabels(reg, 'node-trust') },
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%' } },
      template: {
        metadata: {
          labels: registryLabels(reg, 'node-trust'),
          // A new CA or mode rolls every writer, and the rollout status says when all nodes have it.
          annotations: { [CHECKSUM_ANNOTATION]: sha256(configJson) },
        },
        spec: {
          automountServiceAccountToken: false,
          priorityClassName: 'system-node-critical',
          tolerations: nt.tolerations ?? [{ operator: 'Exists' }],
          ...(nt.nodeSelector ? { nodeSelector: nt.nodeSelector } : {}),
          containers: [
            {
              name: 'writer',
              image: nt.image ?? inputs.operatorImage,
              args: ['node-trust', '--config', `/etc/berth/node-trust/${NODE_TRUST_FILE}`, '--host-root', HOST_ROOT],
              readinessProbe: { exec: { command: ['berth-operator', 'node-trust', '--probe'] }, periodSeconds: 5 },
              resources: { requests: { cpu: '5m', memory: '32Mi' }, limits: { memory: '96Mi' } },
              // Root is needed to write under /etc on the node; nothing else is granted.
              securityContext: { runAsUser: 0, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'], add: ['CHOWN', 'DAC_OVERRIDE', 'FOWNER'] } },
              volumeMounts: [
                { name: 'config', mountPath: '/etc/berth/node-trust', readOnly: true },
                { name: 'run', mountPath: '/run/berth' },
                ...targets.map((t) => ({ name: `certs-${t}`, mountPath: `${HOST_ROOT}${RUNTIME_DIRS[t]}` })),
              ],
            },
          ],
          volumes: [
            { name: 'config', configMap: { name: names.nodeTrust } },
            { name: 'run', emptyDir: {} },
            ...targets.map((t) => ({ name: `certs-${t}`, hostPath: { path: RUNTIME_DIRS[t], type: 'DirectoryOrCreate' } })),
          ],
        },
      },
    },
  };
  return { nodeTrust: daemonSet, nodeTrustConfig: nodeTrustConfigMap };
}
