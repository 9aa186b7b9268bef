/**
 * The composition root: builds every backend from a validated configuration, checks each
 * one is reachable (refusing to start otherwise), applies migrations, and serves the
 * registry app over HTTP or HTTPS. Nothing else in the registry constructs a backend.
 *
 * The production backends (minio, pg, ioredis) and the auth stack are imported only when the
 * configuration uses them: an embedded registry without auth then holds ~40% less JavaScript
 * heap, which every full GC marks again (blob traffic triggers one per ~64 MiB received).
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir, readFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import type { Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Server as HttpsServer } from 'node:https';
import { isIPv6 } from 'node:net';
import { resolve } from 'node:path';
import { pino } from 'pino';
import type { Logger } from 'pino';
import type { AuditSink } from './api/index.ts';
import { createRegistryApp, type RegistryDeps } from './app.ts';
import type { InitialAdminStore } from './auth/initial-admin.ts';
import { AUTH_LOG_REDACT_PATHS, scrubCredentials } from './auth/log-redaction.ts';
import type { CacheStore } from './cache/cache.ts';
import { MemoryCache } from './cache/memory.ts';
import { redactConfig, redactUrlPassword } from './config/redact.ts';
import type { BerthConfig } from './config/schema.ts';
import { validateConfig } from './config/validate.ts';
import { PGliteDatabase } from './metadata/pglite.ts';
import { exposedCollector, loadMallocTrim, processMemory, reportingIncomingMessage } from './runtime/memory.ts';
import { SqlMetadataStore } from './metadata/sql-store.ts';
import type { MetadataStore, SqlDatabase } from './metadata/store.ts';
import type { BlobStorageDriver } from './storage/driver.ts';
import { FilesystemDriver } from './storage/filesystem.ts';

export interface StartOptions {
  /** Defaults to pino JSON on stdout at config.log.level. */
  logger?: Logger;
  /** How long each backend may take to answer at start before it counts as unreachable. */
  backendTimeoutMs?: number;
  /** How long close() lets in-flight requests finish before cutting their connections. */
  drainTimeoutMs?: number;
  /** How often the TLS certificate and key files are checked for a rotation. */
  tlsReloadIntervalMs?: number;
}

export interface RunningRegistry {
  /** A URL that reaches the server from this host (a wildcard address becomes loopback). */
  url: string;
  port: number;
  /** Stop accepting, drain in-flight requests, close every backend. Idempotent. */
  close(): Promise<void>;
}

export interface StartupProblem {
  /** "storage", "metadata", "cache" or "http". */
  part: string;
  message: string;
}

/** The registry cannot start; lists every part that failed, not only the first. */
export class StartupError extends Error {
  constructor(readonly problems: StartupProblem[]) {
    super(['The registry cannot start:', ...problems.map((p) => `  - ${p.part}: ${p.message}`)].join('\n'));
    this.name = 'StartupError';
  }
}

interface Backends {
  storage: BlobStorageDriver;
  metadata: MetadataStore;
  cache: CacheStore;
}

/** The backends, and the SQL database under the metadata store (closed with it). */
interface OpenedBackends {
  backends: Backends;
  database: SqlDatabase;
}

// Load balancers commonly drop idle connections after 60 s: keep ours open longer, so
// the balancer, not the registry, closes them (no request lost on a closing socket).
const KEEP_ALIVE_TIMEOUT_MS = 65_000;
const HEADERS_TIMEOUT_MS = 66_000;
const DEFAULT_BACKEND_TIMEOUT_MS = 15_000;
// Under Kubernetes' default 30 s termination grace period.
const DEFAULT_DRAIN_TIMEOUT_MS = 25_000;
const CLOSE_TIMEOUT_MS = 5_000;
const BERTH_VERSION = '0.1.0';
const DEFAULT_TLS_RELOAD_MS = 30_000;

/** pino JSON on stdout, with credentials in logged objects (headers, tokens) redacted. */
export function createLogger(level: BerthConfig['log']['level']): Logger {
  return pino({ level, redact: { paths: [...AUTH_LOG_REDACT_PATHS], censor: '[redacted]' } });
}

export async function startRegistry(config: BerthConfig, options: StartOptions = {}): Promise<RunningRegistry> {
  // Configs may be built in code (tests, embedding): apply defaults and the same checks as a file.
  config = validateConfig(config, { sourceName: 'startRegistry' });
  const logger = options.logger ?? createLogger(config.log.level);
  logger.info({ config: redactConfig(config) }, 'configuration');

  const { backends, database } = await openBackends(config, logger, options.backendTimeoutMs ?? DEFAULT_BACKEND_TIMEOUT_MS);
  processMemory.use({ collect: exposedCollector(), trim: await loadMallocTrim() });
  const removeIdleHook = processMemory.onIdle(() => backends.storage.releaseIdleMemory?.());
  let server: Server;
  let audit: AuditSink | undefined;
  try {
    const deps: RegistryDeps = {
      ...backends,
      logger,
      options: {
        externalURL: config.http.externalURL,
        maxManifestBytes: config.limits.maxManifestBytes,
        uploadSessionTtlSeconds: config.limits.uploadSessionTtlSeconds,
      },
    };
    if (config.auth.enabled) {
      const wired = await wireAuth(config, backends, database, logger);
      audit = wired.audit;
      Object.assign(deps, wired.deps);
    }
    const app = createRegistryApp(deps);
    server = await listen(config, app.callback());
  } catch (error) {
    removeIdleHook();
    await closeBackends(backends, logger);
    throw error;
  }

  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.http.port;
  const url = `${config.http.tls ? 'https' : 'http'}://${hostForUrl(config.http.address)}:${port}`;
  logger.info({ address: config.http.address, port, url, externalURL: config.http.externalURL, memory: processMemory.capabilities }, 'registry listening');

  const stopTlsReload = config.http.tls
    ? reloadTlsOnChange(server as HttpsServer, config.http.tls, options.tlsReloadIntervalMs ?? DEFAULT_TLS_RELOAD_MS, logger)
    : () => {};

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      stopTlsReload();
      logger.info('registry stopping: draining requests');
      await drain(server, options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS);
      await audit?.flush();
      removeIdleHook();
      await closeBackends(backends, logger);
      logger.info('registry stopped');
    })();
    return closing;
  };
  return { url, port, close };
}

/**
 * Token auth (auth.enabled): users, projects, robots and the audit log in the metadata
 * database; the /v2 AccessController; the token endpoint and the management API mounted
 * next to /v2; the initial admin created once.
 */
async function wireAuth(
  config: BerthConfig,
  backends: Backends,
  database: SqlDatabase,
  logger: Logger,
): Promise<{ audit: AuditSink; deps: Pick<RegistryDeps, 'access' | 'extraRoutes' | 'outermost'> }> {
  const externalURL = required(config.http.externalURL).replace(/\/+$/, '');
  const [
    { AccessStoreAuditSink, createManagementRouter, createTokenRouter, loginAuditHook, v2AuditRecorder },
    { createAuth },
    { ensureInitialAdmin },
    { ConflictError },
    { SqlAccessStore },
  ] = await Promise.all([
    import('./api/index.ts'),
    import('./auth/config.ts'),
    import('./auth/initial-admin.ts'),
    import('./metadata/access-store.ts'),
    import('./metadata/sql-access-store.ts'),
  ]);
  const accessStore = new SqlAccessStore(database);
  const audit = new AccessStoreAuditSink(accessStore, logger);
  const auth = await createAuth(config.auth, {
    cache: backends.cache,
    identities: accessStore,
    projects: accessStore,
    externalURL,
    onLogin: loginAuditHook(audit),
  });
  if (auth.ephemeralSigningKey) {
    logger.warn(
      { kid: auth.signingKeyId },
      'auth: no signingKeyFile configured; tokens are signed by a key generated at this start (one replica only, tokens end with the process)',
    );
  }

  // Replicas starting together race to create the admin: the loser finds it taken.
  const adminStore: InitialAdminStore = {
    findUser: (name) => accessStore.findUser(name),
    createUser: async (input) => {
      try {
        await accessStore.createUser(input);
      } catch (error) {
        if (error instanceof ConflictError) return undefined;
        throw error;
      }
      return accessStore.findUser(input.name);
    },
  };
  const admin = await ensureInitialAdmin(adminStore, config.auth.admin, auth.passwords);
  if (admin.created) {
    logger.info({ user: admin.user.name }, 'auth: initial system administrator created');
    if (admin.generatedPassword !== undefined) {
      // Printed once, outside the JSON log stream, so log shipping never carries it.
      process.stderr.write(
        `\nInitial administrator created: user "${admin.user.name}", password: ${admin.generatedPassword}\n` +
          'It is shown only this once: change it (PUT /api/v2.0/users/{id}/password) and keep it safe.\n\n',
      );
    }
  }

  const health: Record<string, () => Promise<void>> = {
    storage: async () => {
      await backends.storage.stat('_health/probe');
    },
    metadata: () => backends.metadata.ping(),
    cache: () => backends.cache.ping(),
  };
  return {
    audit,
    deps: {
      access: auth.access,
      // /v2 push, pull and delete by authenticated callers, from the subject the access check set.
      outermost: [v2AuditRecorder(audit)],
      extraRoutes: (services) => [
        createTokenRouter({ tokens: auth.tokens, externalURL, logger }),
        createManagementRouter({
          access: accessStore,
          metadata: backends.metadata,
          manifests: services.manifests,
          cache: backends.cache,
          authenticator: auth.authenticator,
          passwords: auth.passwords,
          audit,
          health,
          system: { version: BERTH_VERSION, externalURL, policy: { projectCreation: config.auth.projectCreation } },
          logger,
          secureCookies: config.http.tls !== undefined || externalURL.startsWith('https:'),
        }),
      ],
    },
  };
}

/** Open and check every backend at once, so one start reports every unreachable service. */
async function openBackends(config: BerthConfig, logger: Logger, timeoutMs: number): Promise<OpenedBackends> {
  const secrets = secretsOf(config);
  const opened: Partial<Backends> = {};
  let sqlDatabase: SqlDatabase | undefined;
  const problems: StartupProblem[] = [];

  /**
   * Open one backend; `keep` records it as soon as it exists, so it is closed if anything
   * fails later. Only remote services get a deadline: a first PGlite start (initdb) is slow
   * but local, and certain to finish.
   */
  const check = async <K extends keyof Backends>(
    part: K,
    where: string,
    remote: boolean,
    open: (keep: (b: Backends[K]) => void) => Promise<void>,
  ) => {
    try {
      const opening = open((backend) => {
        opened[part] = backend;
      });
      await (remote ? withTimeout(opening, timeoutMs, `no answer within ${timeoutMs / 1000} s`) : opening);
      logger.info({ part, backend: where }, 'backend ready');
    } catch (error) {
      problems.push({ part, message: `${where}: ${scrub(errorMessage(error), secrets)}` });
    }
  };

  const { storage, database, cache } = config;
  await Promise.all([
    storage.driver === 's3'
      ? check('storage', describeS3(config), true, async (keep) => {
          const s3 = required(storage.s3);
          const { S3Driver } = await import('./storage/s3.ts');
          const driver = new S3Driver({
            endPoint: required(s3.endPoint),
            port: s3.port,
            useSSL: s3.useSSL,
            accessKey: required(s3.accessKey),
            secretKey: required(s3.secretKey),
            bucket: required(s3.bucket),
            region: s3.region,
            prefix: s3.prefix,
          });
          keep(driver);
          await driver.ensureBucket();
        })
      : check('storage', `filesystem at ${resolve(storage.filesystem.rootDirectory)}`, false, async (keep) => {
          const rootDirectory = resolve(storage.filesystem.rootDirectory);
          await mkdir(rootDirectory, { recursive: true });
          await access(rootDirectory, constants.R_OK | constants.W_OK);
          keep(
            new FilesystemDriver({
              rootDirectory,
              directIO: storage.filesystem.directIO,
              pageCacheBytes: storage.filesystem.pageCacheMiB * 1024 * 1024,
            }),
          );
        }),
    database.driver === 'postgres'
      ? check('metadata', `database postgres at ${describeUrl(database.postgres?.url)}`, true, async (keep) => {
          const { PostgresDatabase } = await import('./metadata/postgres.ts');
          const db = new PostgresDatabase({
            url: required(database.postgres?.url),
            poolSize: database.postgres?.poolSize,
            onIdleError: (error) => logger.warn({ err: scrub(error.message, secrets) }, 'postgres: idle connection lost'),
          });
          const store = new SqlMetadataStore(db);
          keep(store);
          sqlDatabase = db;
          await store.migrate();
        })
      : check('metadata', `database pglite at ${resolve(database.pglite.dataDirectory)}`, false, async (keep) => {
          const db = await PGliteDatabase.open({ dataDirectory: resolve(database.pglite.dataDirectory) });
          const store = new SqlMetadataStore(db);
          keep(store);
          sqlDatabase = db;
          await store.migrate();
        }),
    cache.driver === 'redis'
      ? check('cache', `cache redis at ${describeUrl(cache.redis?.url)}`, true, async (keep) => {
          const { RedisCache } = await import('./cache/redis.ts');
          const redis = new RedisCache({ url: required(cache.redis?.url), keyPrefix: cache.redis?.keyPrefix });
          keep(redis);
          await redis.ping();
        })
      : check('cache', 'cache in memory', false, async (keep) => {
          keep(new MemoryCache({ maxEntries: cache.memory.maxEntries }));
        }),
  ]);

  if (problems.length > 0) {
    await closeBackends(opened, logger);
    throw new StartupError(problems);
  }
  return { backends: opened as Backends, database: required(sqlDatabase) };
}

async function closeBackends(backends: Partial<Backends>, logger: Logger): Promise<void> {
  const results = await Promise.allSettled(
    // A connection still stuck in connect() must not hold the process forever.
    Object.values(backends).map((backend) => withTimeout(backend.close(), CLOSE_TIMEOUT_MS, 'no answer')),
  );
  results.forEach((result, i) => {
    if (result.status === 'rejected') {
      logger.warn({ part: Object.keys(backends)[i], err: scrubCredentials(errorMessage(result.reason)) }, 'closing a backend failed');
    }
  });
}

async function listen(config: BerthConfig, handler: Parameters<typeof createHttpServer>[1]): Promise<Server> {
  const tls = config.http.tls;
  // Requests and body bytes are reported to the memory reclaimer (runtime/memory.ts).
  const IncomingMessage = reportingIncomingMessage(processMemory);
  const server: Server = tls
    ? createHttpsServer({ cert: await readFile(tls.certFile), key: await readFile(tls.keyFile), IncomingMessage }, handler)
    : createHttpServer({ IncomingMessage }, handler);
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  // Blob uploads of several GiB on slow links: no deadline on a whole request. Node sets no
  // limit on body size; the app enforces the limits that matter (manifests).
  server.requestTimeout = 0;
  server.timeout = 0;

  const { address, port } = config.http;
  await new Promise<void>((resolvePromise, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      const why =
        error.code === 'EADDRINUSE'
          ? 'the address is already in use (another registry running?)'
          : error.code === 'EACCES'
            ? 'permission denied (ports below 1024 need privileges)'
            : error.code === 'EADDRNOTAVAIL'
              ? 'no network interface has this address'
              : error.message;
      reject(new StartupError([{ part: 'http', message: `cannot listen on ${address}:${port}: ${why}` }]));
    };
    server.once('error', onError);
    server.listen({ host: address, port }, () => {
      server.off('error', onError);
      resolvePromise();
    });
  });
  return server;
}

/**
 * Certificates are rotated by replacing the files (cert-manager, the operator's Secrets):
 * poll them and swap the server's context in place, so rotation needs no restart. A pair
 * that does not load (the key written before the certificate) is retried on the next tick.
 */
function reloadTlsOnChange(
  server: HttpsServer,
  files: { certFile: string; keyFile: string },
  intervalMs: number,
  logger: Logger,
): () => void {
  let applied: string | undefined;
  let failed: string | undefined;
  let busy = false;
  const tick = async () => {
    if (busy) return;
    busy = true;
    try {
      const [cert, key] = await Promise.all([readFile(files.certFile), readFile(files.keyFile)]);
      const fingerprint = createHash('sha256').update(cert).update('\0').update(key).digest('hex');
      // The first tick applies the files too: they may have changed since listen() read them.
      if (fingerprint !== applied) {
        try {
          server.setSecureContext({ cert, key });
          if (applied !== undefined) logger.info({ certFile: files.certFile }, 'TLS certificate reloaded');
          applied = fingerprint;
          failed = undefined;
        } catch (error) {
          if (failed !== fingerprint) logger.warn({ certFile: files.certFile, err: errorMessage(error) }, 'TLS certificate not reloaded');
          failed = fingerprint;
        }
      }
    } catch (error) {
      logger.warn({ certFile: files.certFile, err: errorMessage(error) }, 'TLS files unreadable; keeping the current certificate');
    } finally {
      busy = false;
    }
  };
  void tick();
  const timer = setInterval(() => void tick(), intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** Stop accepting; let requests finish; after `timeoutMs`, cut what is left. */
async function drain(server: Server, timeoutMs: number): Promise<void> {
  // Responses written while draining close their connection instead of keeping it alive.
  server.on('request', (_req, res) => {
    res.shouldKeepAlive = false;
  });
  const closed = new Promise<void>((resolvePromise) => server.close(() => resolvePromise()));
  // Keep-alive connections whose request finishes during the drain become idle: close them too.
  server.closeIdleConnections();
  const sweep = setInterval(() => server.closeIdleConnections(), 200);
  const timer = setTimeout(() => server.closeAllConnections(), timeoutMs);
  try {
    await closed;
  } finally {
    clearInterval(sweep);
    clearTimeout(timer);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Validation guarantees these; the check keeps the types honest. */
function required<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('missing setting (the configuration was not validated)');
  return value;
}

function hostForUrl(address: string): string {
  if (address === '0.0.0.0') return '127.0.0.1';
  if (address === '::') return '[::1]';
  return isIPv6(address) ? `[${address}]` : address;
}

function describeS3(config: BerthConfig): string {
  const s3 = config.storage.s3;
  const port = s3?.port ? `:${s3.port}` : '';
  return `storage s3 at ${s3?.useSSL === false ? 'http' : 'https'}://${s3?.endPoint}${port}, bucket ${s3?.bucket}`;
}

/** Host, port and path of a URL, never its credentials. */
function describeUrl(url: string | undefined): string {
  if (!url) return '(no url)';
  try {
    const parsed = new URL(url);
    return `${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}`;
  } catch {
    return redactUrlPassword(url);
  }
}

/** Every secret value of the configuration, so backend error messages can be scrubbed of them. */
function secretsOf(config: BerthConfig): string[] {
  const passwordOf = (url: string | undefined) => {
    try {
      return url ? decodeURIComponent(new URL(url).password) : '';
    } catch {
      return '';
    }
  };
  return [config.storage.s3?.secretKey, passwordOf(config.database.postgres?.url), passwordOf(config.cache.redis?.url)].filter(
    (s): s is string => !!s && s.length >= 3,
  );
}

/** The configured secrets by value, then anything that looks like a credential. */
function scrub(message: string, secrets: string[]): string {
  return scrubCredentials(secrets.reduce((text, secret) => text.split(secret).join('[redacted]'), message));
}

function errorMessage(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) {
    // Node reports a refused dual-stack connect as an AggregateError with an empty message.
    return error.errors.map(errorMessage).join('; ');
  }
  if (error instanceof Error) return error.message || (error as NodeJS.ErrnoException).code || error.name;
  return String(error);
}
