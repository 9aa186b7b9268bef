/**
 * The registry configuration: one TypeBox schema is the TypeScript type, the JSON Schema
 * (the operator renders it into a ConfigMap) and the defaults.
 *
 *   http:     { address, port, externalURL?, tls?: { certFile, keyFile } }
 *   storage:  { driver: filesystem | s3, filesystem: {...}, s3?: {...} }
 *   database: { driver: pglite | postgres, pglite: {...}, postgres?: {...} }
 *   cache:    { driver: memory | redis, memory: {...}, redis?: {...} }
 *   limits:   { maxManifestBytes, uploadSessionTtlSeconds }
 *   log:      { level }
 *   auth:     token auth, initial admin (registry/src/auth/config.ts owns the section)
 *
 * Every object rejects unknown keys. The defaults are the embedded configuration: filesystem
 * blobs, PGlite metadata and a memory cache under ./.berth-data, listening on 127.0.0.1:5000.
 * Relative paths are relative to the working directory of the process.
 *
 * A new section is one entry in `BerthConfigSchema`: defaults, validation,
 * environment overrides (BERTH_<SECTION>_<KEY>) and secret redaction all walk this schema.
 * Rules that span fields (a driver needs its section) live in `crossFieldProblems` below.
 */
import { Type } from '@sinclair/typebox';
import type { Static, TLiteral } from '@sinclair/typebox';
import { AuthSchema, authConfigProblems } from '../auth/config.ts';
import { SECRET_KEYWORD } from './secret.ts';

// Section schemas elsewhere (auth/) mark their secrets with this keyword: they import it
// from ./secret.ts, never from this file, so that this file can import their sections.
export { SECRET_KEYWORD, secretKind } from './secret.ts';
export type { SecretKind } from './secret.ts';

const strict = { additionalProperties: false } as const;
/** An object section that is always present (filled from its children's defaults). */
const section = { additionalProperties: false, default: {} } as const;

/** A closed set of strings, e.g. a driver name. */
const oneOf = <const T extends TLiteral<string>[]>(literals: [...T], options: { default: Static<T[number]>; description: string }) =>
  Type.Union(literals, options);
const L = <const V extends string>(value: V) => Type.Literal(value);

const NonEmpty = (description: string, extra: Record<string, unknown> = {}) =>
  Type.String({ minLength: 1, description, ...extra });

export const TlsSchema = Type.Object(
  {
    certFile: NonEmpty('PEM certificate chain file.'),
    keyFile: NonEmpty('PEM private key file.'),
  },
  strict,
);

export const HttpSchema = Type.Object(
  {
    address: NonEmpty('Listen address.', { default: '127.0.0.1' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 5000, description: 'Listen port (0: any free port).' }),
    externalURL: Type.Optional(
      NonEmpty('URL clients use to reach the registry (Location headers, token realm), e.g. https://registry.example.com.'),
    ),
    tls: Type.Optional(TlsSchema),
  },
  section,
);

export const FilesystemStorageSchema = Type.Object(
  {
    rootDirectory: NonEmpty('Directory holding blobs and upload parts.', { default: './.berth-data/blobs' }),
    directIO: Type.Boolean({
      default: true,
      description:
        'Write and read objects of 1 MiB and more past the page cache (O_DIRECT) where the filesystem allows it. ' +
        'Turn off on slow disks, where the page cache serving hot layers matters more than the copy it costs.',
    }),
    pageCacheMiB: Type.Integer({
      minimum: 0,
      default: 1024,
      description:
        'With directIO: MiB of the blobs written or read lately that are kept in the page cache (written and read through it, ' +
        'so a blob pulled soon after its push comes from memory); older ones are dropped from it and read past it. ' +
        'Counts against a container\'s memory limit as reclaimable cache. 0: every large blob is read from the disk until it is hot.',
    }),
  },
  section,
);

/** Required fields are checked only when the driver is s3 (see crossFieldProblems). */
export const S3StorageSchema = Type.Object(
  {
    endPoint: Type.Optional(NonEmpty('Host name of the S3 service, without scheme, e.g. minio.example.com.')),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: 'Port (default: 443 with SSL, 80 without).' })),
    useSSL: Type.Boolean({ default: true, description: 'Use HTTPS.' }),
    accessKey: Type.Optional(NonEmpty('Access key id.')),
    secretKey: Type.Optional(NonEmpty('Secret access key.', { [SECRET_KEYWORD]: 'value' })),
    bucket: Type.Optional(NonEmpty('Bucket; created at start when missing.')),
    region: Type.String({ default: 'us-east-1', description: 'Region of the bucket.' }),
    prefix: Type.String({ default: '', description: 'Key prefix inside the bucket, e.g. "berth/".' }),
  },
  strict,
);

export const StorageSchema = Type.Object(
  {
    driver: oneOf([L('filesystem'), L('s3')], { default: 'filesystem', description: 'Where blobs are stored.' }),
    filesystem: FilesystemStorageSchema,
    s3: Type.Optional(S3StorageSchema),
  },
  section,
);

export const PgliteDatabaseSchema = Type.Object(
  { dataDirectory: NonEmpty('Directory of the embedded PGlite database.', { default: './.berth-data/metadata' }) },
  section,
);

export const PostgresDatabaseSchema = Type.Object(
  {
    url: Type.Optional(
      NonEmpty('Connection URL, e.g. postgres://user:password@host:5432/berth.', { [SECRET_KEYWORD]: 'url-password' }),
    ),
    poolSize: Type.Integer({ minimum: 1, maximum: 1000, default: 10, description: 'Connections per process.' }),
  },
  strict,
);

export const DatabaseSchema = Type.Object(
  {
    driver: oneOf([L('pglite'), L('postgres')], { default: 'pglite', description: 'Where metadata is stored.' }),
    pglite: PgliteDatabaseSchema,
    postgres: Type.Optional(PostgresDatabaseSchema),
  },
  section,
);

export const MemoryCacheSchema = Type.Object(
  { maxEntries: Type.Integer({ minimum: 1, default: 100000, description: 'Entries kept before the oldest are evicted.' }) },
  section,
);

export const RedisCacheSchema = Type.Object(
  {
    url: Type.Optional(NonEmpty('Connection URL, e.g. redis://:password@host:6379/0.', { [SECRET_KEYWORD]: 'url-password' })),
    keyPrefix: Type.String({ default: 'berth:', description: 'Prefix of every key, to share a Redis database.' }),
  },
  strict,
);

export const CacheSchema = Type.Object(
  {
    driver: oneOf([L('memory'), L('redis')], {
      default: 'memory',
      description: 'Cache and upload-session state (redis to share it between replicas).',
    }),
    memory: MemoryCacheSchema,
    redis: Type.Optional(RedisCacheSchema),
  },
  section,
);

export const LimitsSchema = Type.Object(
  {
    maxManifestBytes: Type.Integer({ minimum: 1024, default: 4 * 1024 * 1024, description: 'Largest manifest accepted.' }),
    uploadSessionTtlSeconds: Type.Integer({
      minimum: 60,
      default: 86400,
      description: 'An upload session idle this long is forgotten.',
    }),
  },
  section,
);

export const LogSchema = Type.Object(
  {
    level: oneOf([L('fatal'), L('error'), L('warn'), L('info'), L('debug'), L('trace')], { default: 'info', description: 'Log level.' }),
  },
  section,
);

export const BerthConfigSchema = Type.Object(
  {
    http: HttpSchema,
    storage: StorageSchema,
    database: DatabaseSchema,
    cache: CacheSchema,
    limits: LimitsSchema,
    log: LogSchema,
    auth: AuthSchema,
  },
  { ...strict, $id: 'https://berth.dev/schemas/registry-config.json', title: 'Berth registry configuration' },
);

export type BerthConfig = Static<typeof BerthConfigSchema>;
export type StorageConfig = BerthConfig['storage'];
export type DatabaseConfig = BerthConfig['database'];
export type CacheConfig = BerthConfig['cache'];

/** One thing wrong with a configuration: where, and what a user should do about it. */
export interface ConfigProblem {
  /** Dotted key path, e.g. "storage.s3.bucket" (empty for the whole file). */
  path: string;
  message: string;
}

/** Rules that span fields, on a config that already matches the schema. */
export function crossFieldProblems(config: BerthConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const requireWhen = (condition: string, section: string, values: Record<string, unknown> | undefined, keys: string[]) => {
    for (const key of keys) {
      if (values?.[key] === undefined) problems.push({ path: `${section}.${key}`, message: `required when ${condition}` });
    }
  };

  if (config.storage.driver === 's3') {
    requireWhen('storage.driver is s3', 'storage.s3', config.storage.s3, ['endPoint', 'accessKey', 'secretKey', 'bucket']);
    const endPoint = config.storage.s3?.endPoint;
    if (endPoint !== undefined && /[/:]/.test(endPoint)) {
      problems.push({
        path: 'storage.s3.endPoint',
        message: 'expected a host name without scheme, port or path (set storage.s3.port and storage.s3.useSSL instead)',
      });
    }
  }
  if (config.database.driver === 'postgres') {
    requireWhen('database.driver is postgres', 'database.postgres', config.database.postgres, ['url']);
    checkUrl(problems, 'database.postgres.url', config.database.postgres?.url, ['postgres:', 'postgresql:']);
  }
  if (config.cache.driver === 'redis') {
    requireWhen('cache.driver is redis', 'cache.redis', config.cache.redis, ['url']);
    checkUrl(problems, 'cache.redis.url', config.cache.redis?.url, ['redis:', 'rediss:']);
  }
  checkUrl(problems, 'http.externalURL', config.http.externalURL, ['http:', 'https:']);
  problems.push(...authConfigProblems(config.auth, config.http.externalURL));
  return problems;
}

function checkUrl(problems: ConfigProblem[], path: string, value: string | undefined, protocols: string[]): void {
  if (value === undefined) return;
  const example = `${protocols[0]}//...`;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    // The value may hold a password: never echo it.
    problems.push({ path, message: `not a valid URL (expected ${example})` });
    return;
  }
  if (!protocols.includes(url.protocol)) {
    problems.push({ path, message: `scheme ${url.protocol.replace(/:$/, '')} not supported (expected ${protocols.join(' or ')}//...)` });
  }
}
