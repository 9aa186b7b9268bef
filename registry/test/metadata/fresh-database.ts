/**
 * A fresh database on the test run's PostgreSQL (from testEnv()), one per test file, so
 * suites never see each other's rows. Dropped by `drop()`.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { testEnv } from '../../../e2e/env/test-env.ts';

export interface FreshDatabase {
  url: string;
  drop(): Promise<void>;
}

/** `label` (lower case, digits, _) goes into the database's name, to tell runs apart when debugging. */
export async function freshDatabase(label = 'test'): Promise<FreshDatabase> {
  const adminUrl = testEnv().postgres.url;
  const name = `berth_${label.replace(/[^a-z0-9_]/g, '_')}_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
