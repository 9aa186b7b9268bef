/**
 * The /v2 suite on the production backends of this test run: MinIO (S3Driver), PostgreSQL and
 * Redis, each isolated per run (a fresh database, a bucket prefix, a Redis key prefix).
 * A restart keeps Redis, as a real redeploy does; the upload then continues from shared state.
 */
import { randomBytes } from 'node:crypto';
import { testEnv } from '../../../e2e/env/test-env.ts';
import { freshDatabase } from '../metadata/fresh-database.ts';
import { S3Driver } from '../../src/storage/s3.ts';
import { PostgresDatabase } from '../../src/metadata/postgres.ts';
import { SqlMetadataStore } from '../../src/metadata/sql-store.ts';
import { RedisCache } from '../../src/cache/redis.ts';
import { registryHttpSuite, type MakeRegistry } from './registry-suite.ts';
import { serveBackends } from './serve.ts';

export const makeProductionRegistry: MakeRegistry = async (options = {}) => {
  const env = testEnv();
  const runId = randomBytes(5).toString('hex');
  const database = await freshDatabase('http');
  const storage = new S3Driver({ ...env.minio, prefix: `http-suite-${runId}` });
  const db = new PostgresDatabase({ url: database.url, poolSize: 4 });
  const metadata = new SqlMetadataStore(db);
  await metadata.migrate();
  return serveBackends({
    storage,
    metadata,
    newCache: () => new RedisCache({ url: env.redis.url, keyPrefix: `berth-http-${runId}:` }),
    sharedCache: true,
    options,
    async closeBackends() {
      await db.close();
      await storage.deletePrefix('_uploads').catch(() => undefined);
      await storage.deletePrefix('blobs').catch(() => undefined);
      await storage.close();
      await database.drop();
    },
  });
};

describe('registry /v2 HTTP: production backends (MinIO, PostgreSQL, Redis)', function () {
  this.timeout(180_000);
  registryHttpSuite(makeProductionRegistry);
});
