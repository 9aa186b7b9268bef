/**
 * Runs Berth as a real child process (`node dist/registry/main.mjs --config <file>`, built
 * once per test process by registry/build.ts, as `npm start` runs it), the way a user does, on a free loopback port, with either the embedded backends (filesystem, PGlite,
 * memory) or the production ones (the run's real PostgreSQL, Redis and MinIO).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from './net.ts';
import { REGISTRY_NODE_FLAGS, buildRegistry } from '../../registry/build.ts';
import { testEnv } from '../env/test-env.ts';
import { freshDatabase } from '../../registry/test/metadata/fresh-database.ts';

export type Backends = 'embedded' | 'production';

const repoRoot = resolve(import.meta.dirname, '..', '..');

/** Isolated production backends: a fresh database, a Redis key prefix and a bucket prefix. */
export interface ProductionBackends {
  databaseUrl: string;
  redisKeyPrefix: string;
  s3Prefix: string;
}

/** Creates a fresh database in the run's Postgres and unique Redis/MinIO namespaces. */
export async function createProductionBackends(label: string): Promise<ProductionBackends> {
  const id = `${label.replace(/[^a-z0-9]/g, '_')}_${randomBytes(4).toString('hex')}`;
  const database = await freshDatabase(label);
  return { databaseUrl: database.url, redisKeyPrefix: `berth-${id}:`, s3Prefix: `berth-${id}` };
}

export interface BerthOptions {
  backends: Backends;
  /** Directory for this instance's config, logs and embedded data. */
  dir: string;
  /** Shared production backends (several processes on the same data); created when omitted. */
  production?: ProductionBackends;
  port?: number;
  /** Extra top-level config sections merged in (e.g. auth). */
  extraConfig?: Record<string, unknown>;
  env?: Record<string, string>;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
}

export interface BerthProcess {
  /** http://127.0.0.1:<port> */
  url: string;
  /** 127.0.0.1:<port>, what clients put in image references. */
  host: string;
  port: number;
  pid: number;
  production?: ProductionBackends;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL, no chance to clean up (crash tests). */
  kill9(): Promise<void>;
}

export function berthConfig(opts: BerthOptions & { port: number; production?: ProductionBackends }): Record<string, unknown> {
  const base: Record<string, unknown> = {
    http: { address: '127.0.0.1', port: opts.port },
    log: { level: opts.logLevel ?? 'info' },
  };
  if (opts.backends === 'embedded') {
    base.storage = { driver: 'filesystem', filesystem: { rootDirectory: join(opts.dir, 'data', 'blobs') } };
    base.database = { driver: 'pglite', pglite: { dataDirectory: join(opts.dir, 'data', 'metadata') } };
    base.cache = { driver: 'memory' };
  } else {
    const env = testEnv();
    const p = opts.production!;
    base.storage = {
      driver: 's3',
      s3: {
        endPoint: env.minio.endPoint,
        port: env.minio.port,
        useSSL: false,
        accessKey: env.minio.accessKey,
        secretKey: env.minio.secretKey,
        bucket: env.minio.bucket,
        prefix: p.s3Prefix,
      },
    };
    base.database = { driver: 'postgres', postgres: { url: p.databaseUrl } };
    base.cache = { driver: 'redis', redis: { url: env.redis.url, keyPrefix: p.redisKeyPrefix } };
  }
  return { ...base, ...(opts.extraConfig ?? {}) };
}

let built: Promise<string> | undefined;

/** The registry bundle `npm start` runs, built once per process (the first start pays ~1 s). */
function registryBundle(): Promise<string> {
  built ??= buildRegistry();
  return built;
}

export async function startBerth(opts: BerthOptions): Promise<BerthProcess> {
  const bundle = await registryBundle();
  await mkdir(opts.dir, { recursive: true });
  const port = opts.port ?? (await freePort());
  const production =
    opts.backends === 'production' ? (opts.production ?? (await createProductionBackends('berth'))) : undefined;
  const configFile = join(opts.dir, `config-${port}.yaml`);
  await writeFile(configFile, stringify(berthConfig({ ...opts, port, production })));

  const child: ChildProcess = spawn(
    process.execPath,
    [...REGISTRY_NODE_FLAGS, bundle, '--config', configFile],
    { cwd: repoRoot, env: { ...process.env, ...(opts.env ?? {}) }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const early = await Promise.race([exited, new Promise<'wait'>((r) => setTimeout(() => r('wait'), 100))]);
    if (early !== 'wait') throw new Error(`berth exited with ${early} before serving:\n${output}`);
    try {
      const res = await fetch(`${url}/v2/`);
      await res.arrayBuffer();
      if (res.status === 200 || res.status === 401) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`berth did not serve ${url}/v2/ within 60 s:\n${output}`);
    }
  }

  const waitExit = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return {
    url,
    host: `127.0.0.1:${port}`,
    port,
    pid: child.pid!,
    production,
    output: () => output,
    stop: () => waitExit('SIGTERM'),
    kill9: () => waitExit('SIGKILL'),
  };
}
