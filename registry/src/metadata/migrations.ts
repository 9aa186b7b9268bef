/**
 * Versioned schema migrations: registry/src/metadata/migrations/NNNN_<name>.sql, applied in
 * order, each recorded in `schema_migrations` with a checksum of its text.
 *
 * All pending migrations run in one transaction that first takes a transaction-level
 * advisory lock, so replicas starting together apply each migration exactly once: the
 * others wait, then find nothing pending. The lock is released by COMMIT/ROLLBACK, or by the
 * server if the process dies, so a crash never leaves it held.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import type { SqlDatabase } from './store.ts';

/** Advisory lock key of Berth's migrations (any constant unique within the database). */
export const MIGRATION_LOCK_KEY = 0x6265727468; // "berth"

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const MIGRATION_FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/;

/** The migrations shipped with this build, in version order. */
export async function loadMigrations(directory = new URL('./migrations/', import.meta.url)): Promise<Migration[]> {
  const files = (await readdir(directory)).filter((file) => file.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const match = MIGRATION_FILE.exec(file);
    if (!match) throw new Error(`migration file name ${file} does not match NNNN_name.sql`);
    const version = Number(match[1]);
    if (migrations.some((m) => m.version === version)) throw new Error(`two migrations have version ${version}`);
    migrations.push({ version, name: match[2]!, sql: await readFile(new URL(file, directory), 'utf8') });
  }
  return migrations;
}

function checksum(sql: string): string {
  return createHash('sha256').update(sql).digest('hex');
}

/** Apply pending migrations; returns the versions this call applied. */
export async function migrate(db: SqlDatabase, migrations?: Migration[]): Promise<number[]> {
  const all = migrations ?? (await loadMigrations());
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await tx.exec(`
      CREATE TABLE IF NOT EXISTS schema_migrations (
        -- NNNN of the file name.
        version    integer PRIMARY KEY,
        name       text NOT NULL,
        -- sha256 of the file text, so an edited applied migration is detected.
        checksum   text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
    const rows = await tx.query<{ version: number; checksum: string }>('SELECT version, checksum FROM schema_migrations');
    const applied = new Map(rows.map((row) => [row.version, row.checksum]));
    const done: number[] = [];
    for (const migration of all) {
      const sum = checksum(migration.sql);
      const appliedSum = applied.get(migration.version);
      if (appliedSum !== undefined) {
        if (appliedSum !== sum) {
          throw new Error(
            `migration ${migration.version}_${migration.name} was changed after it was applied; ` +
              'add a new migration instead of editing an applied one',
          );
        }
        continue;
      }
      await tx.exec(migration.sql);
      await tx.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
        migration.version,
        migration.name,
        sum,
      ]);
      done.push(migration.version);
    }
    // Versions applied by a newer build are left alone: migrations stay backward compatible
    // so older replicas keep working during a rolling upgrade.
    return done;
  });
}
