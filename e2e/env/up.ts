/**
 * Starts the test services and keeps them running until Ctrl-C, for developers and
 * benchmarks. The TestEnv file goes to a known path (printed):
 *
 *   npx tsx e2e/env/up.ts                 # all services
 *   BERTH_SERVICES=postgres,minio npx tsx e2e/env/up.ts
 *   BERTH_TEST_ENV=/tmp/berth-test-env.json npx mocha registry/test/...   # in another shell
 */
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseServiceList, startEnvironment } from './environment.ts';
import { consoleProgress } from './progress.ts';

export const defaultEnvFile = join(tmpdir(), 'berth-test-env.json');

const progress = consoleProgress('up');
const envFile = process.env.BERTH_ENV_FILE || defaultEnvFile;
try {
  const environment = await startEnvironment({
    services: parseServiceList(process.env.BERTH_SERVICES),
    progress,
    envFile,
    keepWorkDir: process.env.BERTH_KEEP_ENV === '1',
  });
  process.stdout.write(`\nservices are up; in another shell:\n  export BERTH_TEST_ENV=${envFile}\nCtrl-C stops them.\n`);
  await new Promise<void>((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, () => resolve());
  });
  await progress.step('stop services', () => environment.stop());
  rmSync(envFile, { force: true });
} catch (err) {
  progress.line(`setup failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
