/** The embedded backends for the /v2 suites: filesystem storage, PGlite in memory, memory cache. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FilesystemDriver } from '../../src/storage/filesystem.ts';
import { PGliteDatabase } from '../../src/metadata/pglite.ts';
import { SqlMetadataStore } from '../../src/metadata/sql-store.ts';
import { MemoryCache } from '../../src/cache/memory.ts';
import type { MakeRegistry } from './registry-suite.ts';
import { serveBackends } from './serve.ts';

export const makeEmbeddedRegistry: MakeRegistry = async (options = {}) => {
  const directory = await mkdtemp(join(tmpdir(), 'berth-http-'));
  const storage = new FilesystemDriver({ rootDirectory: join(directory, 'blobs') });
  const db = await PGliteDatabase.open({});
  const metadata = new SqlMetadataStore(db);
  await metadata.migrate();
  return serveBackends({
    storage,
    metadata,
    newCache: () => new MemoryCache(),
    sharedCache: false,
    options,
    async closeBackends() {
      await db.close();
      await storage.close();
      await rm(directory, { recursive: true, force: true });
    },
  });
};
