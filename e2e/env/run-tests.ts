/**
 * `npm test` after the typecheck: installs and builds what is missing, starts the services,
 * runs mocha with BERTH_TEST_ENV pointing at their description, stops every service (after
 * a failure or a signal too) and exits with mocha's code.
 *
 *   npx tsx e2e/env/run-tests.ts [mocha arguments or spec files]
 *   BERTH_SERVICES=postgres,redis npx tsx e2e/env/run-tests.ts registry/test/x.test.ts
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { parseServiceList, startEnvironment, type Environment } from './environment.ts';
import { consoleProgress } from './progress.ts';

interface Outcome {
  code: number;
  /** "N passed, N failed": printed last, after the services stopped. */
  closingLine?: string;
}

async function main(): Promise<Outcome> {
  const progress = consoleProgress();
  const services = parseServiceList(process.env.BERTH_SERVICES);
  let environment: Environment | undefined;
  let stopping: Promise<void> | undefined;
  const stopAll = () => (stopping ??= environment ? progress.step('stop services', () => environment!.stop()) : Promise.resolve());

  let mocha: ReturnType<typeof spawn> | undefined;
  let signalled: NodeJS.Signals | undefined;
  const setupAborted = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) return;
    signalled = signal;
    progress.line(`${signal}: stopping`);
    if (mocha && mocha.exitCode === null) mocha.kill(signal);
    else if (environment) void stopAll().finally(() => process.exit(signalExitCode(signal)));
    else setupAborted.abort(new Error(`${signal} during setup`)); // setup stops what it started

  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);

  try {
    environment = await startEnvironment({
      services,
      progress,
      keepWorkDir: process.env.BERTH_KEEP_ENV === '1',
      abort: setupAborted.signal,
    });
    progress.line(`env file ${environment.envFile}`);
    const args = mochaArgs(process.argv.slice(2), environment.env.workDir);
    const started = Date.now();
    // mocha's output passes through; its summary is kept to print one closing line.
    let summary = '';
    const code = await new Promise<number>((resolve, reject) => {
      const child = spawn(process.execPath, [mochaBin(), ...(process.stdout.isTTY ? ['--color'] : []), ...args], {
        stdio: ['inherit', 'pipe', 'inherit'],
        env: { ...process.env, BERTH_TEST_ENV: environment!.envFile },
      });
      mocha = child;
      child.stdout.on('data', (chunk: Buffer) => {
        process.stdout.write(chunk);
        summary = (summary + chunk.toString('utf8')).slice(-65536);
      });
      child.on('error', reject);
      child.on('close', (exitCode, signal) => resolve(exitCode ?? (signal ? 128 + 1 : 1)));
    });
    progress.line(`mocha exited with ${code} after ${((Date.now() - started) / 1000).toFixed(1)}s`);
    const counts = mochaCounts(summary);
    const closingLine = counts
      ? `${counts.passed} passed, ${counts.failed} failed${counts.pending ? `, ${counts.pending} skipped` : ''}`
      : undefined;
    return { code, closingLine };
  } catch (err) {
    progress.line(`setup failed: ${err instanceof Error ? err.message : String(err)}`);
    return { code: signalled ? signalExitCode(signalled) : 1 };
  } finally {
    await stopAll();
  }
}

/** Counts from mocha's spec-reporter summary ("12 passing (3s)", "1 failing", "2 pending"). */
function mochaCounts(output: string): { passed: number; failed: number; pending: number } | undefined {
  // eslint-disable-next-line no-control-regex
  const plain = output.replace(/\u001b\[[0-9;]*m/g, '');
  const count = (word: string) => Number(new RegExp(`^\\s*(\\d+) ${word}\\b`, 'm').exec(plain)?.[1] ?? 0);
  if (!/^\s*\d+ passing\b/m.test(plain) && !/^\s*\d+ failing\b/m.test(plain)) return undefined;
  return { passed: count('passing'), failed: count('failing'), pending: count('pending') };
}

function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + ({ SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as Record<string, number>)[signal]!;
}

/** The project's own mocha (what `npx mocha` would run, without npx's start-up). */
function mochaBin(): string {
  const bin = fileURLToPath(new URL('../../node_modules/mocha/bin/mocha.js', import.meta.url));
  if (!existsSync(bin)) throw new Error(`mocha not found at ${bin}: run \`npm ci\` in the repository root first`);
  return bin;
}

/**
 * Mocha adds spec files named on the command line to the config's `spec` globs; when spec
 * files are named, run them alone, with the rest of .mocharc.yaml.
 */
function mochaArgs(args: string[], workDir: string): string[] {
  const namesSpecs = args.some((arg) => !arg.startsWith('-') && (existsSync(arg) || /[*?{]/.test(arg)));
  if (!namesSpecs || !existsSync('.mocharc.yaml')) return args;
  const config = YAML.parse(readFileSync('.mocharc.yaml', 'utf8')) as Record<string, unknown>;
  delete config.spec;
  const file = join(workDir, 'mocharc.json');
  writeFileSync(file, JSON.stringify(config));
  return ['--config', file, ...args];
}

const outcome = await main();
if (outcome.closingLine) process.stdout.write(`\n${outcome.closingLine}\n`);
process.exitCode = outcome.code;
