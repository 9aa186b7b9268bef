/** The embedded backends for the /v2 suites: filesystem storage, PGlite in memory, memory cache. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FilesystemDriver } from '../../src/storage/filesystem.ts';
import { PGliteDatabase } from '../../src/metadata/pglite.ts';
import { SqlMetadataStore } from '../../src/metadata/sql-store.ts';
import { MemoryCache } from '../../src/cache/memory.ts';
import type { MakeRegistry } from './registry-suite.ts';
import { listen, type Listening } from './serve.ts';

export const makeEmbeddedRegistry: MakeRegistry = async (options = {}) => {
  const directory = await mkdtemp(join(tmpdir(), 'berth-http-'));
  const storage = new FilesystemDriver({ rootDirectory: join(directory, 'blobs') });
  const db = await PGliteDatabase.open({});
  const metadata = new SqlMetadataStore(db);
  await metadata.migrate();
  let cache = new MemoryCache();
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
    sharedCache: false,
    async restart() {
      await server.close();
      await cache.close();
      cache = new MemoryCache();
      server = await start();
    },
    async startReplica() {
      const replicaCache = new MemoryCache();
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
      await storage.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
};
