/**
 * The /v2 suite on the production backends of this test run: MinIO (S3Driver), PostgreSQL and
 * Redis, each isolated per run (a fresh database, a bucket prefix, a Redis key prefix).
 * A restart keeps Redis, as a real redeploy does; the upload then continues from shared state.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { testEnv } from '../../../e2e/env/test-env.ts';
import { S3Driver } from '../../src/storage/s3.ts';
import { PostgresDatabase } from '../../src/metadata/postgres.ts';
import { SqlMetadataStore } from '../../src/metadata/sql-store.ts';
import { RedisCache } from '../../src/cache/redis.ts';
import { registryHttpSuite, type MakeRegistry } from './registry-suite.ts';
import { listen, type Listening } from './serve.ts';

async function createDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const env = testEnv();
  const name = `berth_http_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: env.postgres.url });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(env.postgres.url);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: env.postgres.url });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

export const makeProductionRegistry: MakeRegistry = async (options = {}) => {
  const env = testEnv();
  const runId = randomBytes(5).toString('hex');
  const database = await createDatabase();
  const storage = new S3Driver({ ...env.minio, prefix: `http-suite-${runId}` });
  const db = new PostgresDatabase({ url: database.url, poolSize: 4 });
  const metadata = new SqlMetadataStore(db);
  await metadata.migrate();
  const newCache = () => new RedisCache({ url: env.redis.url, keyPrefix: `berth-http-${runId}:` });
  let cache = newCache();
  const start = (replicaCache?: typeof cache) =>
    listen({
      storage,
      metadata,
      cache: replicaCache ?? cache,
      ...(options.access ? { access: options.access } : {}),
      options: {
        ...(options.maxManifestBytes ? { maxManifestBytes: options.maxManifestBytes } : {}),
        ...(options.externalURL ? { externalURL: options.externalURL } : {}),
      },
    });
  let server: Listening = await start();
  return {
    get url() {
      return server.url;
    },
    storage,
    sharedCache: true,
    async restart() {
      await server.close();
      await cache.close();
      cache = newCache();
      server = await start();
    },
    async startReplica() {
      const replicaCache = newCache();
      const replica = await start(replicaCache);
      return {
        url: replica.url,
        async close() {
          await replica.close();
          await replicaCache.close();
        },
      };
    },
    async close() {
      await server.close();
      await cache.close();
      await db.close();
      await storage.deletePrefix('_uploads').catch(() => undefined);
      await storage.deletePrefix('blobs').catch(() => undefined);
      await storage.close();
      await database.drop();
    },
  };
};

describe('registry /v2 HTTP: production backends (MinIO, PostgreSQL, Redis)', function () {
  this.timeout(180_000);
  registryHttpSuite(makeProductionRegistry);
});
