/**
 * SqlDatabase over PGlite: PostgreSQL compiled to WebAssembly, in-process (embedded mode).
 *
 * PGlite is one connection. Its `transaction()` holds a mutex that its `query()` and `exec()`
 * also take, so concurrent callers wait for a transaction instead of interleaving statements
 * inside it. Code running in a transaction must therefore use the `tx` it is given: calling
 * the database itself from inside `work` would wait forever.
 */
import { mkdir } from 'node:fs/promises';
import { PGlite, types } from '@electric-sql/pglite';
import type { SqlDatabase, SqlExecutor, SqlQueryOptions } from './store.ts';

export interface PGliteDatabaseOptions {
  /** Directory of the database files; in memory when undefined. */
  dataDirectory?: string;
}

export class PGliteDatabase implements SqlDatabase {
  readonly name = 'pglite';
  readonly #db: PGlite;

  private constructor(db: PGlite) {
    this.#db = db;
  }

  static async open(options: PGliteDatabaseOptions = {}): Promise<PGliteDatabase> {
    if (options.dataDirectory !== undefined) await mkdir(options.dataDirectory, { recursive: true });
    const db = await PGlite.create(options.dataDirectory, {
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
    return new PGliteDatabase(db);
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
  }
}
