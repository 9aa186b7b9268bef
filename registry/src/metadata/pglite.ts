/**
 * SqlDatabase over PGlite: PostgreSQL compiled to WebAssembly, in-process (embedded mode).
 *
 * PGlite is one connection. Its `transaction()` holds a mutex that its `query()` and `exec()`
 * also take, so concurrent callers wait for a transaction instead of interleaving statements
 * inside it. Code running in a transaction must therefore use the `tx` it is given: calling
 * the database itself from inside `work` would wait forever.
 *
 * A data directory is opened by one process at a time (PGlite itself does not check):
 * `berth.pid` in it names the holder, and a file left by a dead process is taken over.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import { PGlite, types } from '@electric-sql/pglite';
import type { SqlDatabase, SqlExecutor, SqlQueryOptions } from './store.ts';

/**
 * An embedded registry's metadata is small (megabytes): 16 MB of shared buffers holds it,
 * and keeps the process's resident memory low (the default 128 MB is resident once touched).
 */
const EMBEDDED_POSTGRESQL_CONF = ['shared_buffers=16MB'];

export interface PGliteDatabaseOptions {
  /** Directory of the database files; in memory when undefined. */
  dataDirectory?: string;
}

export class PGliteDatabase implements SqlDatabase {
  readonly name = 'pglite';
  readonly shared = false;
  readonly #db: PGlite;
  readonly #releaseLock: () => Promise<void>;

  private constructor(db: PGlite, releaseLock: () => Promise<void>) {
    this.#db = db;
    this.#releaseLock = releaseLock;
  }

  static async open(options: PGliteDatabaseOptions = {}): Promise<PGliteDatabase> {
    const directory = options.dataDirectory;
    let releaseLock = async () => {};
    if (directory !== undefined) {
      await mkdir(directory, { recursive: true });
      releaseLock = await lockDataDirectory(directory);
    }
    try {
      if (directory !== undefined && !existsSync(join(directory, 'PG_VERSION'))) await initdbInChildProcess(directory);
      keepWasmOnBaselineCompiler();
      const db = await PGlite.create(directory, {
        postgresqlconf: EMBEDDED_POSTGRESQL_CONF,
        // The same JS types as the pg adapter (postgres.ts).
        parsers: {
          [types.INT8]: (value: string) => Number(value),
          [types.NUMERIC]: (value: string) => Number(value),
          // Text format "\x0a1b...": Buffer's hex decoder is much faster than PGlite's default.
          [types.BYTEA]: (value: string) => Buffer.from(value.slice(2), 'hex'),
        },
        serializers: {
          [types.BYTEA]: (value: Uint8Array) =>
            '\\x' + Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex'),
        },
      });
      return new PGliteDatabase(db, releaseLock);
    } catch (err) {
      await releaseLock();
      throw err;
    }
  }

  async query<Row = Record<string, unknown>>(sql: string, params?: unknown[], _options?: SqlQueryOptions): Promise<Row[]> {
    // PGlite has no statement cache to opt into; `prepare` is a hint for pooled servers.
    const result = await this.#db.query<Row>(sql, params);
    return result.rows;
  }

  async exec(script: string): Promise<void> {
    await this.#db.exec(script);
  }

  transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.#db.transaction(async (pgliteTx) => {
      const tx: SqlExecutor = {
        query: async <Row>(sql: string, params?: unknown[]) => (await pgliteTx.query<Row>(sql, params)).rows,
        exec: async (script: string) => {
          await pgliteTx.exec(script);
        },
      };
      return work(tx);
    });
  }

  async close(): Promise<void> {
    if (!this.#db.closed) await this.#db.close();
    await this.#releaseLock();
  }
}

/**
 * PGlite's WebAssembly runs on V8's baseline compiler (Liftoff) only: the optimising tier
 * (TurboFan) compiled the hot part of PostgreSQL for ~55 MiB of resident memory (code and
 * compiler arenas), and bought nothing measurable for a registry's queries (1000 inserts and
 * lookups: 0.57-0.61 ms and 0.30-0.32 ms per query with Liftoff only, 0.83-0.95 ms and 0.32 ms
 * with tier-up). PGlite is the only WebAssembly the registry runs. Set before the module is
 * compiled; V8 reads the flag at compile time.
 */
function keepWasmOnBaselineCompiler(): void {
  v8.setFlagsFromString('--liftoff-only');
}

/**
 * Initialise a new data directory in a short-lived child process. initdb grows PGlite's
 * WebAssembly heap to ~600 MiB, and an instance in this process would leave that memory (until
 * a full GC) and a fragmented malloc arena behind: measured, a registry started on a new
 * directory sat at ~345 MiB resident after its first pushes against ~285 MiB when started on
 * an initialised one. A child process gives all of it back to the OS when it exits.
 */
async function initdbInChildProcess(directory: string): Promise<void> {
  const script = [
    "const { PGlite } = await import(process.argv[1]);",
    "const db = await PGlite.create(process.argv[2], { postgresqlconf: JSON.parse(process.argv[3]) });",
    'await db.close();',
  ].join('\n');
  const args = ['--input-type=module', '-e', script, pathToFileURL(createRequire(import.meta.url).resolve('@electric-sql/pglite')).href, directory, JSON.stringify(EMBEDDED_POSTGRESQL_CONF)];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    if (stderr.length < 8192) stderr += chunk.toString();
  });
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  if (code !== 0) throw new Error(`initdb of the PGlite data directory ${directory} failed (${signal ?? `exit code ${code}`}): ${stderr.trim().slice(-2000)}`);
}

/**
 * Take `berth.pid` in the data directory, holding "<pid> <process start time>". The start
 * time tells a live holder in this very process from a file left by an earlier process that
 * had the same pid (pid 1 in a restarted container). Returns the release function.
 */
export async function lockDataDirectory(directory: string): Promise<() => Promise<void>> {
  const file = join(directory, 'berth.pid');
  const startedAt = Math.round(Date.now() - process.uptime() * 1000);
  const content = `${process.pid} ${startedAt}\n`;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(file, 'wx');
      try {
        await handle.writeFile(content);
      } finally {
        await handle.close();
      }
      let released = false;
      return async () => {
        if (released) return;
        released = true;
        await rm(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = await readFile(file, 'utf8').catch(() => '');
    const [pidText, startText] = holder.trim().split(' ');
    const pid = Number(pidText);
    if (Number.isInteger(pid) && pid > 0 && holderIsAlive(pid, Number(startText), startedAt)) {
      throw new Error(`the PGlite data directory ${directory} is in use by process ${pid} (${file})`);
    }
    // Left by a process that is gone: take it over.
    await rm(file, { force: true });
  }
  throw new Error(`could not lock the PGlite data directory ${directory} (${file})`);
}

function holderIsAlive(pid: number, holderStartedAt: number, ourStartedAt: number): boolean {
  // Same pid: alive only if it is this process, i.e. the start times agree.
  if (pid === process.pid) return Math.abs(holderStartedAt - ourStartedAt) < 2_000;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
