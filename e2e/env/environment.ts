/**
 * Starts the chosen services in a fresh temporary directory, on free loopback ports, and
 * describes them in a TestEnv JSON file. Used by run-tests.ts, up.ts and the benchmarks.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestEnv } from './test-env.ts';
import { PortAllocator } from './ports.ts';
import type { ServiceProcess } from './process.ts';
import type { Progress } from './progress.ts';
import type { RunningService, ServiceContext } from './services/service.ts';
import { prepareClients } from './services/clients.ts';
import { startContainerd } from './services/containerd.ts';
import { startDistribution } from './services/distribution.ts';
import { startKube } from './services/kube.ts';
import { startMinio } from './services/minio.ts';
import { startPostgres } from './services/postgres.ts';
import { startRedis } from './services/redis.ts';
import { goPrograms, Toolbox, toolsCacheDir } from './tools.ts';

/**
 * What BERTH_SERVICES can name. `clients` installs and builds the registry clients and the
 * conformance suites (no process); the others start servers.
 */
export const serviceNames = ['postgres', 'redis', 'minio', 'kube', 'containerd', 'distribution', 'clients'] as const;
export type ServiceName = (typeof serviceNames)[number];

/** BERTH_SERVICES=a,b limits the services (for developers); unset or empty means all. */
export function parseServiceList(spec: string | undefined): ServiceName[] {
  const wanted = (spec ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (wanted.length === 0) return [...serviceNames];
  const unknown = wanted.filter((s) => !(serviceNames as readonly string[]).includes(s));
  if (unknown.length > 0) {
    throw new Error(`BERTH_SERVICES: unknown ${unknown.join(', ')}; known: ${serviceNames.join(', ')}`);
  }
  return serviceNames.filter((s) => wanted.includes(s));
}

/** The env file: a TestEnv in which services that were not started are absent. */
export type EnvFile = Partial<TestEnv> & Pick<TestEnv, 'workDir' | 'services' | 'processes'>;

export interface Environment {
  env: EnvFile;
  /** Path of the TestEnv JSON file (what BERTH_TEST_ENV points at). */
  envFile: string;
  /** Stops every service (reverse start order) and removes the temporary directory. */
  stop(): Promise<void>;
}

export interface EnvironmentOptions {
  services: readonly ServiceName[];
  progress: Progress;
  toolbox?: Toolbox;
  /** Where to write the env file; default: inside the temporary directory. */
  envFile?: string;
  /** Keep the temporary directory (logs, data) after stopping. */
  keepWorkDir?: boolean;
  /** Aborting stops the setup at the next step and stops what it had started. */
  abort?: AbortSignal;
}

export async function startEnvironment(options: EnvironmentOptions): Promise<Environment> {
  const { progress } = options;
  const toolbox = options.toolbox ?? new Toolbox(progress, toolsCacheDir(), options.abort);
  const workDir = mkdtempSync(join(tmpdir(), 'berth-env-'));
  // Traversable, not listable: services that run as their own user (postgres) reach their
  // own subdirectory, which each service keeps private.
  chmodSync(workDir, 0o711);
  const ports = new PortAllocator();
  const env: EnvFile = { workDir, services: [...options.services], processes: [] };
  const running: RunningService<unknown>[] = [];
  const context = (name: string): ServiceContext => {
    const dir = join(workDir, name);
    mkdirSync(dir, { recursive: true });
    return { dir, ports };
  };

  const stop = async () => {
    for (const service of running.reverse()) {
      await service.stop().catch((err: Error) => progress.line(`stopping failed: ${err.message}`));
    }
    running.length = 0;
    if (!options.keepWorkDir) rmSync(workDir, { recursive: true, force: true });
  };
  const track = <I>(service: RunningService<I>): I => {
    running.push(service);
    env.processes.push(...service.processes.map((p: ServiceProcess) => ({ name: p.name, pid: p.pid })));
    return service.info;
  };

  progress.line(`services: ${options.services.join(', ')}; directory ${workDir}`);
  try {
    const want = (name: ServiceName) => options.services.includes(name);
    // Tools first, one after another: builds share 2 cores. Debian packages in one apt run.
    const debian = await toolbox.ensureDebian([
      ...(want('postgres') ? (['initdb', 'postgres'] as const) : []),
      ...(want('redis') ? (['redisServer'] as const) : []),
      ...(want('kube') ? (['etcd', 'openssl'] as const) : []),
      ...(want('containerd') || want('clients') ? (['containerd', 'ctr'] as const) : []),
      ...(want('distribution') || want('clients') ? (['dockerRegistry'] as const) : []),
      ...(want('clients') ? (['skopeo', 'podman', 'newuidmap'] as const) : []),
    ]);
    const checkpoint = () => options.abort?.throwIfAborted();
    checkpoint();
    const minio = want('minio') ? await toolbox.ensureGo(goPrograms.minio) : undefined;
    checkpoint();
    const kubeApiserver = want('kube') ? await toolbox.ensureGo(goPrograms.kubeApiserver) : undefined;
    checkpoint();
    if (want('clients')) {
      const tools: TestEnv['tools'] = {
        skopeo: debian.skopeo!,
        podman: debian.podman!,
        ctr: debian.ctr!,
        dockerRegistry: debian.dockerRegistry!,
        oras: await toolbox.ensureGo(goPrograms.oras),
        crane: await toolbox.ensureGo(goPrograms.crane),
        helm: await toolbox.ensureGo(goPrograms.helm),
        conformance: await toolbox.ensureGo(goPrograms.conformance),
        conformanceGinkgo: await toolbox.ensureGo(goPrograms.conformanceGinkgo),
        conformanceV111: await toolbox.ensureGo(goPrograms.conformanceV111).catch((err: Error) => {
          // The Go module proxy reachable here refuses this pseudo-version (403); say so
          // in the env file instead of failing every other test.
          const reason = `the v1.1.1 conformance suite could not be built: ${err.message.split('\n').slice(0, 3).join(' ')}`;
          progress.line(`WARNING ${reason}`);
          (env.unavailable ??= {}).conformanceV111 = reason;
          return '';
        }),
      };
      env.tools = tools;
      env.clients = prepareClients(context('clients').dir);
    }

    checkpoint();
    // Services start side by side; each waits for its own readiness.
    const starts: Promise<void>[] = [];
    const start = <I>(name: ServiceName, begin: (ctx: ServiceContext) => Promise<RunningService<I>>, keep: (info: I) => void) => {
      starts.push(progress.step(`start ${name}`, async () => keep(track(await startWithRetry(name, begin)))));
    };
    // A free port can be taken by another program between choosing it and binding it (other
    // test runs share the machine): start again, in a fresh directory, on new ports.
    const startWithRetry = async <I>(name: ServiceName, begin: (ctx: ServiceContext) => Promise<RunningService<I>>) => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await begin(context(attempt === 1 ? name : `${name}-${attempt}`));
        } catch (err) {
          if (attempt >= 3 || !/address already in use|EADDRINUSE|bind: /i.test(String(err))) throw err;
          progress.line(`${name}: a port was taken meanwhile; starting again on new ports`);
        }
      }
    };
    if (want('postgres')) {
      start('postgres', (ctx) => startPostgres(ctx, { initdb: debian.initdb!, postgres: debian.postgres! }), (i) => (env.postgres = i));
    }
    if (want('redis')) start('redis', (ctx) => startRedis(ctx, debian.redisServer!), (i) => (env.redis = i));
    if (minio) start('minio', (ctx) => startMinio(ctx, minio), (i) => (env.minio = i));
    if (kubeApiserver) {
      const programs = { etcd: debian.etcd!, openssl: debian.openssl!, kubeApiserver };
      start('kube', (ctx) => startKube(ctx, programs), (i) => (env.kube = i));
    }
    if (want('containerd')) {
      start('containerd', (ctx) => startContainerd(ctx, { containerd: debian.containerd!, ctr: debian.ctr! }), (i) => (env.containerd = i));
    }
    if (want('distribution')) {
      start('distribution', (ctx) => startDistribution(ctx, debian.dockerRegistry!), (i) => (env.distribution = i));
    }
    // Wait for every start, even after an abort, so that stop() sees all that runs.
    const results = await Promise.allSettled(starts);
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failures.length > 0) {
      throw new Error(failures.map((f) => (f.reason instanceof Error ? f.reason.message : String(f.reason))).join('\n\n'));
    }
    checkpoint();
  } catch (err) {
    await stop();
    throw err;
  }
  const envFile = options.envFile ?? join(workDir, 'test-env.json');
  writeFileSync(envFile, JSON.stringify(env, null, 2), { mode: 0o600 });
  return { env, envFile, stop };
}
