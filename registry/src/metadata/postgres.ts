/**
 * SqlDatabase over a `pg` connection pool (production PostgreSQL).
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import type { SqlDatabase, SqlExecutor, SqlQueryOptions } from './store.ts';

export interface PostgresDatabaseOptions {
  /** postgres://user:password@host:port/database */
  url: string;
  /** Maximum connections in the pool (default 10). */
  poolSize?: number;
  /** Errors of idle pooled connections (the pool drops them); ignored when absent. */
  onIdleError?: (err: Error) => void;
}

type Queryable = pg.Pool | pg.PoolClient;

export class PostgresDatabase implements SqlDatabase {
  readonly name = 'postgres';
  readonly shared = true;
  readonly #pool: pg.Pool;
  /** SQL text -> prepared statement name, so equal texts share one statement per connection. */
  readonly #statementNames = new Map<string, string>();

  constructor(options: PostgresDatabaseOptions) {
    this.#pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 10,
      // Shows in pg_stat_activity, so operators can tell Berth's connections apart.
      application_name: 'berth',
      types: pgTypesForBerth(),
    });
    // Without a listener, an idle connection dropped by the server would crash the process.
    this.#pool.on('error', (err) => options.onIdleError?.(err));
  }

  query<Row = Record<string, unknown>>(sql: string, params?: unknown[], options?: SqlQueryOptions): Promise<Row[]> {
    return this.#run<Row>(this.#pool, sql, params, options);
  }

  async exec(script: string): Promise<void> {
    // No parameters: pg uses the simple protocol, which accepts several statements.
    await this.#pool.query(script);
  }

  async transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    let open = true;
    const tx: SqlExecutor = {
      query: <Row>(sql: string, params?: unknown[], options?: SqlQueryOptions) => {
        if (!open) throw new Error('transaction is finished');
        return this.#run<Row>(client, sql, params, options);
      },
      exec: async (script: string) => {
        if (!open) throw new Error('transaction is finished');
        await client.query(script);
      },
    };
    try {
      await client.query('BEGIN');
      const result = await work(tx);
      await client.query('COMMIT');
      open = false;
      client.release();
      return result;
    } catch (err) {
      open = false;
      try {
        await client.query('ROLLBACK');
        client.release();
      } catch (rollbackError) {
        // The connection is in an unknown state: destroy it rather than return it to the pool.
        client.release(rollbackError as Error);
      }
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }

  async #run<Row>(target: Queryable, sql: string, params: unknown[] | undefined, options?: SqlQueryOptions): Promise<Row[]> {
    if (options?.prepare) {
      const result = await target.query({ name: this.#statementName(sql), text: sql, values: params ?? [] });
      return result.rows as Row[];
    }
    const result = await target.query(sql, params);
    return result.rows as Row[];
  }

  #statementName(sql: string): string {
    let name = this.#statementNames.get(sql);
    if (!name) {
      name = 'berth_' + createHash('sha1').update(sql).digest('hex').slice(0, 20);
      this.#statementNames.set(sql, name);
    }
    return name;
  }
}

/**
 * Type parsers for this pool only (pg.types.setTypeParser would change every pg user in
 * the process): int8 and numeric as JS numbers, like PGlite is configured to return them.
 * Sizes and counts stay far below 2^53.
 */
function pgTypesForBerth(): pg.CustomTypesConfig {
  const overrides = new pg.TypeOverrides();
  overrides.setTypeParser(pg.types.builtins.INT8, 'text', (value: string) => Number(value));
  overrides.setTypeParser(pg.types.builtins.NUMERIC, 'text', (value: string) => Number(value));
  return overrides;
}
