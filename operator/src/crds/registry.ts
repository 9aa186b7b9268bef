/**
 * The Registry custom resource (berth.dev/v1alpha1): one running Berth registry and
 * everything it needs in its namespace. This schema is the one source of the TypeScript
 * type and of crds/berth.dev_registries.yaml.
 */
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import type { V1ObjectMeta, V1ResourceRequirements, V1Toleration } from '@kubernetes/client-node';
import { cel, Conditions, ObjectName, Opaque, OpaqueList, SecretKeyRef, StringEnum, StringMap } from './schema-kit.ts';

export const DEFAULT_REGISTRY_IMAGE = 'ghcr.io/berth-dev/berth-registry:0.1.0';

const Hostname = Type.String({
  minLength: 1,
  maxLength: 253,
  pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$',
  description: 'External DNS name clients use to reach the registry (lowercase, no scheme, no port).',
});

export const RegistryTlsSchema = Type.Object(
  {
    secretName: Type.Optional(
      ObjectName({
        description:
          'Bring your own certificate: a kubernetes.io/tls Secret (tls.crt, tls.key, optional ca.crt). ' +
          'When neither secretName nor issuerRef is set, the operator generates a CA and a serving certificate.',
      }),
    ),
    issuerRef: Type.Optional(
      Type.Object(
        {
          name: ObjectName(),
          kind: StringEnum(['Issuer', 'ClusterIssuer'] as const, { default: 'Issuer' }),
          group: Type.String({ default: 'cert-manager.io' }),
        },
        { description: 'Have cert-manager issue the serving certificate (a Certificate is created).' },
      ),
    ),
    extraNames: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 253 }), {
        maxItems: 32,
        description: 'More DNS names or IP addresses for the generated serving certificate (host and Service names are always in).',
      }),
    ),
  },
  {
    default: {},
    ...cel({ rule: '!(has(self.secretName) && has(self.issuerRef))', message: 'set at most one of tls.secretName and tls.issuerRef' }),
  },
);

export const RegistryStorageSchema = Type.Object(
  {
    filesystem: Type.Optional(
      Type.Object(
        {
          size: Type.String({ default: '20Gi', pattern: '^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$' }),
          storageClassName: Type.Optional(Type.String({ minLength: 1, maxLength: 253 })),
          pageCacheMiB: Type.Optional(
            Type.Integer({
              minimum: 0,
              maximum: 1048576,
              description:
                "MiB of the blobs written or read lately kept in the page cache (the registry's storage.filesystem.pageCacheMiB). " +
                "Counts against the container's memory limit as reclaimable cache. Default: half of resources.limits.memory, at most 1024; 1024 without a limit.",
            }),
          ),
        },
        { description: 'Blobs (and the embedded database) on a PersistentVolumeClaim. Single replica only.' },
      ),
    ),
    s3: Type.Optional(
      Type.Object(
        {
          endPoint: Type.String({ minLength: 1, maxLength: 253, description: 'Host name of the S3/MinIO endpoint.' }),
          port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
          useSSL: Type.Boolean({ default: true }),
          bucket: Type.String({ minLength: 3, maxLength: 63 }),
          region: Type.Optional(Type.String({ maxLength: 64 })),
          prefix: Type.Optional(Type.String({ maxLength: 512 })),
          credentialsSecret: Type.Object(
            {
              name: ObjectName(),
              accessKeyKey: Type.String({ default: 'accessKey' }),
              secretKeyKey: Type.String({ default: 'secretKey' }),
            },
            { description: 'Secret holding the access key and secret key.' },
          ),
        },
        { description: 'Blobs in an S3 bucket (AWS S3, MinIO, ...).' },
      ),
    ),
  },
  {
    default: {},
    description: 'Where blobs live. Default: a filesystem PersistentVolumeClaim.',
    ...cel({ rule: '!(has(self.filesystem) && has(self.s3))', message: 'set at most one of storage.filesystem and storage.s3' }),
  },
);

export const RegistryDatabaseSchema = Type.Object(
  {
    postgres: Type.Optional(
      Type.Object({
        urlSecret: SecretKeyRef('url', 'Secret key holding the postgres:// connection URL (with credentials).'),
        poolSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
      }),
    ),
  },
  { default: {}, description: 'Metadata database. Default: embedded PGlite on the storage volume (single replica).' },
);

export const RegistryRedisSchema = Type.Object(
  {
    urlSecret: SecretKeyRef('url', 'Secret key holding the redis:// connection URL (with credentials).'),
    keyPrefix: Type.Optional(Type.String({ maxLength: 128 })),
  },
  { description: 'Shared cache and upload sessions. Default: in memory (single replica).' },
);

export const NodeTrustSchema = Type.Object(
  {
    enabled: Type.Boolean({ default: false }),
    containerd: Type.Boolean({ default: true, description: 'Write /etc/containerd/certs.d/<host>/hosts.toml and ca.crt.' }),
    docker: Type.Boolean({ default: true, description: 'Write /etc/docker/certs.d/<host>/ca.crt.' }),
    containers: Type.Boolean({ default: false, description: 'Write /etc/containers/certs.d/<host>/ca.crt (CRI-O, podman).' }),
    image: Type.Optional(Type.String({ minLength: 1, description: 'Image of the writer; default: the operator image.' })),
    nodeSelector: Type.Optional(StringMap()),
    tolerations: Type.Optional(OpaqueList<V1Toleration>({ description: 'Default: tolerate every taint.' })),
  },
  { default: {}, description: 'Distribute the registry CA to every node\'s container runtimes.' },
);

export const RegistrySpecSchema = Type.Object(
  {
    host: Hostname,
    port: Type.Integer({ minimum: 1, maximum: 65535, default: 443, description: 'External port clients use.' }),
    image: Type.String({ minLength: 1, default: DEFAULT_REGISTRY_IMAGE }),
    imagePullPolicy: StringEnum(['Always', 'IfNotPresent', 'Never'] as const, { default: 'IfNotPresent' }),
    replicas: Type.Integer({ minimum: 0, maximum: 100, default: 1 }),
    resources: Type.Optional(Opaque<V1ResourceRequirements>()),
    logLevel: StringEnum(['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const, { default: 'info' }),
    tls: RegistryTlsSchema,
    adminPasswordSecret: Type.Optional(
      Type.Object(
        {
          name: ObjectName(),
          usernameKey: Type.String({ default: 'username' }),
          passwordKey: Type.String({ default: 'password' }),
        },
        { description: 'Initial admin credentials; default: generated into <name>-admin.' },
      ),
    ),
    storage: RegistryStorageSchema,
    database: RegistryDatabaseSchema,
    redis: Type.Optional(RegistryRedisSchema),
    service: Type.Object(
      {
        type: StringEnum(['ClusterIP', 'NodePort', 'LoadBalancer'] as const, { default: 'ClusterIP' }),
        port: Type.Integer({ minimum: 1, maximum: 65535, default: 443 }),
        annotations: Type.Optional(StringMap()),
      },
      { default: {} },
    ),
    ingress: Type.Optional(
      Type.Object({
        className: Type.Optional(Type.String({ minLength: 1, maxLength: 253 })),
        annotations: Type.Optional(StringMap()),
        tls: Type.Boolean({ default: true, description: 'Serve the registry certificate on the Ingress.' }),
      }),
    ),
    nodeTrust: NodeTrustSchema,
    rotation: Type.Optional(
      Type.Object(
        {
          tokenSigningKey: Type.Optional(Type.String({ maxLength: 63 })),
          ca: Type.Optional(Type.String({ maxLength: 63 })),
        },
        { description: 'Change a value to request a rotation of that generated material (any new string, e.g. a date).' },
      ),
    ),
  },
  cel(
    {
      rule: 'self.replicas <= 1 || (has(self.storage.s3) && has(self.database.postgres) && has(self.redis))',
      message:
        'replicas > 1 requires external backends: set spec.storage.s3, spec.database.postgres and spec.redis ' +
        '(embedded storage, database and cache serve a single replica only)',
      fieldPath: '.replicas',
    },
    {
      rule: '!has(self.tls.issuerRef) || !has(self.rotation) || !has(self.rotation.ca)',
      message: 'rotation.ca applies to a generated CA only; cert-manager rotates issued certificates itself',
    },
  ),
);

export const RegistryStatusSchema = Type.Object({
  observedGeneration: Type.Optional(Type.Integer({ format: 'int64' })),
  conditions: Type.Optional(Conditions()),
  externalURL: Type.Optional(Type.String()),
  caBundle: Type.Optional(Type.String({ description: 'PEM CA bundle clients need to trust the registry.' })),
  readyReplicas: Type.Optional(Type.Integer({ minimum: 0 })),
  tokenSigningKeyID: Type.Optional(Type.String()),
});

export type RegistrySpec = Static<typeof RegistrySpecSchema>;
export type RegistryStatus = Static<typeof RegistryStatusSchema>;

export interface Registry {
  apiVersion: 'berth.dev/v1alpha1';
  kind: 'Registry';
  metadata: V1ObjectMeta;
  spec: RegistrySpec;
  status?: RegistryStatus;
}
