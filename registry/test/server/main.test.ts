import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { closedPort, pullBlob, pushBlob } from './helpers.ts';
import { REGISTRY_NODE_FLAGS, buildRegistry } from '../../build.ts';

/** What `npm start` runs: registry/src/main.ts bundled by registry/build.ts (set in before()). */
let bundle: string | undefined;

interface Run {
  code: Promise<number | null>;
  stdout: () => string;
  stderr: () => string;
  signal: (signal: NodeJS.Signals) => void;
}

/** `node dist/registry/main.mjs <args>` (as `npm start` runs it) with only the given BERTH_ variables. */
function runMain(args: string[], cwd: string, env: Record<string, string> = {}): Run {
  if (!bundle) throw new Error('the registry bundle is not built (before() builds it)');
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('BERTH_')));
  const child = spawn(process.execPath, [...REGISTRY_NODE_FLAGS, bundle, ...args], {
    cwd,
    env: { ...inherited, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return {
    code: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
    stdout: () => stdout,
    stderr: () => stderr,
    signal: (signal) => child.kill(signal),
  };
}

function logLines(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function waitForLog(run: Run, msg: string, timeoutMs = 200_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = logLines(run.stdout()).find((l) => l.msg === msg);
    if (line) return line;
    const exited = await Promise.race([run.code, new Promise<'wait'>((r) => setTimeout(() => r('wait'), 100))]);
    if (exited !== 'wait') assert.fail(`main.ts exited with ${exited} before logging "${msg}":\n${run.stdout()}${run.stderr()}`);
    if (Date.now() > deadline) assert.fail(`no "${msg}" log within ${timeoutMs} ms:\n${run.stdout()}${run.stderr()}`);
  }
}

describe('npm start (registry/src/main.ts, bundled)', function () {
  // Each test starts a registry process (and the first PGlite initdb): slow on a busy machine.
  this.timeout(240_000);
  let dir: string;
  before(async () => {
    bundle = await buildRegistry();
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'berth-main-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('is what package.json\'s start script runs, with the same node flags as the tests and the benchmark', () => {
    const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../../package.json', import.meta.url)), 'utf8')) as { scripts: Record<string, string> };
    assert.equal(pkg.scripts.start, `tsx registry/build.ts && node ${REGISTRY_NODE_FLAGS.join(' ')} dist/registry/main.mjs`);
  });

  it('loads the production backends\' packages (minio, pg, ioredis) only through dynamic imports', () => {
    // Everything main.mjs imports statically, followed through the bundle's chunks.
    const staticImports = (source: string) => [...source.matchAll(/^import\s[^;]*?from\s*"([^"]+)";?$|^import\s*"([^"]+)";?$/gm)].map((m) => m[1] ?? m[2]!);
    const seen = new Set<string>();
    const packages = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const spec of staticImports(readFileSync(file, 'utf8'))) {
        if (spec.startsWith('./')) visit(join(bundle!, '..', spec));
        else packages.add(spec);
      }
    };
    visit(bundle!);
    assert.ok(packages.has('koa') && packages.has('@electric-sql/pglite'), `the import scan found ${[...packages].join(', ')}`);
    for (const name of ['minio', 'pg', 'ioredis']) assert.ok(!packages.has(name), `${name} is imported statically by ${[...seen].join(', ')}`);
  });

  it('with no configuration runs the embedded registry with data in ./.berth-data, and stops on SIGTERM', async () => {
    const port = await closedPort();
    const run = runMain([], dir, { BERTH_HTTP_PORT: String(port) });
    try {
      const listening = await waitForLog(run, 'registry listening');
      assert.equal(listening.url, `http://127.0.0.1:${port}`);
      // REGISTRY_NODE_FLAGS expose the collector, and glibc's malloc_trim loads (runtime/memory.ts).
      assert.deepEqual(listening.memory, { youngCollections: true, trim: true });
      const response = await fetch(`http://127.0.0.1:${port}/v2/`);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('docker-distribution-api-version'), 'registry/2.0');
      assert.ok(existsSync(join(dir, '.berth-data', 'blobs')), 'no ./.berth-data/blobs');
      assert.ok(existsSync(join(dir, '.berth-data', 'metadata')), 'no ./.berth-data/metadata');
    } finally {
      run.signal('SIGTERM');
    }
    assert.equal(await run.code, 0, run.stdout() + run.stderr());
    const messages = logLines(run.stdout()).map((l) => l.msg);
    assert.ok(messages.includes('registry stopped'), messages.join('\n'));
    await assert.rejects(fetch(`http://127.0.0.1:${port}/v2/`));
  });

  it('starts again on the same embedded data after kill -9, with what was stored', async () => {
    const port = await closedPort();
    const url = `http://127.0.0.1:${port}`;
    const env = { BERTH_HTTP_PORT: String(port) };
    const first = runMain([], dir, env);
    const data = randomBytes(8192);
    let digest: string;
    try {
      await waitForLog(first, 'registry listening');
      digest = await pushBlob(url, 'crash/restart', data);
    } finally {
      first.signal('SIGKILL');
    }
    assert.equal(await first.code, null, 'killed by a signal');

    const second = runMain([], dir, env);
    try {
      await waitForLog(second, 'registry listening');
      assert.deepEqual(await pullBlob(url, 'crash/restart', digest), data);
    } finally {
      second.signal('SIGTERM');
    }
    assert.equal(await second.code, 0, second.stdout() + second.stderr());
  });

  it('exits 2 listing every configuration problem, without secrets', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      'http:\n  port: -1\nstorage:\n  driver: s3\ndatabase:\n  driver: postgres\n  postgres:\n    url: "mysql://u:cli-hunter2@db/x"\n',
    );
    const run = runMain(['--config', file], dir, { BERTH_LOG_LEVEL: 'chatty' });
    assert.equal(await run.code, 2);
    const stderr = run.stderr();
    assert.match(stderr, /^Invalid configuration \(.*bad\.yaml\): 7 problems$/m);
    for (const expected of [
      '  - http.port: must be at least 0 (got -1)',
      '  - storage.s3.bucket: required when storage.driver is s3',
      '  - log.level: expected one of: fatal, error, warn, info, debug, trace (got "chatty") (set by BERTH_LOG_LEVEL)',
    ]) {
      assert.ok(stderr.includes(expected), `missing "${expected}" in:\n${stderr}`);
    }
    assert.ok(!stderr.includes('hunter2') && !run.stdout().includes('hunter2'));
  });

  it('--check-config prints the effective configuration with secrets redacted', async () => {
    const run = runMain(['--check-config'], dir, {
      BERTH_CONFIG: fileURLToPath(new URL('../../../examples/registry-production.yaml', import.meta.url)),
      BERTH_STORAGE_S3_SECRETKEY: 'cli-s3-hunter2',
      BERTH_DATABASE_POSTGRES_URL: 'postgres://berth:cli-pg-hunter2@db:5432/berth',
    });
    assert.equal(await run.code, 0, run.stderr());
    const printed = parse(run.stdout()) as Record<string, Record<string, Record<string, unknown>>>;
    assert.equal(printed.storage?.s3?.secretKey, '[redacted]');
    assert.equal(printed.database?.postgres?.url, 'postgres://berth:redacted@db:5432/berth');
    assert.equal(printed.http?.port, 5000);
    assert.ok(!run.stdout().includes('hunter2'));
  });

  it('exits 1 when a backend is unreachable, saying which', async () => {
    const redisPort = await closedPort();
    const run = runMain([], dir, {
      BERTH_HTTP_PORT: '0',
      BERTH_CACHE_DRIVER: 'redis',
      BERTH_CACHE_REDIS_URL: `redis://:cli-hunter2@127.0.0.1:${redisPort}/0`,
    });
    assert.equal(await run.code, 1, run.stdout() + run.stderr());
    const fatal = logLines(run.stdout()).find((l) => l.level === 60);
    assert.ok(fatal, run.stdout());
    assert.match(String(fatal.msg), new RegExp(`- cache: cache redis at 127\\.0\\.0\\.1:${redisPort}/0: `));
    assert.ok(!run.stdout().includes('hunter2'));
  });

  it('exits 2 on an unknown argument, with the usage', async () => {
    const run = runMain(['--port', '5000'], dir);
    assert.equal(await run.code, 2);
    assert.match(run.stderr(), /Unknown option '--port'/);
    assert.match(run.stderr(), /Usage: npm start -- \[--config <file\.yaml>\]/);
  });
});
