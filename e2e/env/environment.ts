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
import { startPostgres } from './services/postgres.ts';
import { startRedis } from './services/redis.ts';
import { Toolbox } from './tools.ts';

export const serviceNames = ['postgres', 'redis'] as const;
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
}

export async function startEnvironment(options: EnvironmentOptions): Promise<Environment> {
  const { progress } = options;
  const toolbox = options.toolbox ?? new Toolbox(progress);
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
    // Tools first, one after another: builds share 2 cores.
    const postgresPrograms = want('postgres') ? await toolbox.ensureDebian(['initdb', 'postgres']) : undefined;
    const redisPrograms = want('redis') ? await toolbox.ensureDebian(['redisServer']) : undefined;

    // Services start side by side; each waits for its own readiness.
    const starts: Promise<void>[] = [];
    if (postgresPrograms) {
      starts.push(progress.step('postgres', async () => void (env.postgres = track(await startPostgres(context('postgres'), postgresPrograms)))));
    }
    if (redisPrograms) {
      starts.push(progress.step('redis', async () => void (env.redis = track(await startRedis(context('redis'), redisPrograms.redisServer)))));
    }
    const results = await Promise.allSettled(starts);
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failures.length > 0) {
      throw new Error(failures.map((f) => (f.reason instanceof Error ? f.reason.message : String(f.reason))).join('\n\n'));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const envFile = options.envFile ?? join(workDir, 'test-env.json');
  writeFileSync(envFile, JSON.stringify(env, null, 2), { mode: 0o600 });
  return { env, envFile, stop };
}
