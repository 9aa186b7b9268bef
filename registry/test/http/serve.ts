/** Serves a registry app on a random loopback port for the HTTP suites. */
import { createServer, type Server } from 'node:http';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { createRegistryApp, defaultRegistryOptions, type RegistryDeps } from '../../src/app.ts';
import type { MakeRegistry, RegistryUnderTest } from './registry-suite.ts';

export interface Listening {
  url: string;
  close(): Promise<void>;
}

export function quietLogger(): Logger {
  return pino({ level: process.env.BERTH_TEST_LOG_LEVEL ?? 'silent' });
}

export async function listen(deps: Omit<RegistryDeps, 'options' | 'logger'> & { options?: Partial<RegistryDeps['options']>; logger?: Logger }): Promise<Listening> {
  const app = createRegistryApp({ ...deps, logger: deps.logger ?? quietLogger(), options: { ...defaultRegistryOptions, ...deps.options } });
  const server: Server = createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('server has no address');
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/**
 * A RegistryUnderTest over one set of backends: the server, a restart (a fresh app and cache
 * on the same data), replicas with caches of their own, and close (the server, the cache,
 * then `closeBackends`). Each backend file of the /v2 suite only makes its backends.
 */
export async function serveBackends(backends: {
  storage: RegistryDeps['storage'];
  metadata: RegistryDeps['metadata'];
  newCache: () => RegistryDeps['cache'];
  /** Whether two caches from newCache() share state (Redis) or not (memory). */
  sharedCache: boolean;
  options: Parameters<MakeRegistry>[0];
  closeBackends: () => Promise<void>;
}): Promise<RegistryUnderTest> {
  const { storage, metadata, newCache, options = {} } = backends;
  let cache = newCache();
  const start = (ownCache: RegistryDeps['cache']) =>
    listen({
      storage,
      metadata,
      cache: ownCache,
      ...(options.access ? { access: options.access } : {}),
      options: {
        ...(options.maxManifestBytes ? { maxManifestBytes: options.maxManifestBytes } : {}),
        ...(options.externalURL ? { externalURL: options.externalURL } : {}),
      },
    });
  let server: Listening = await start(cache);
  return {
    get url() {
      return server.url;
    },
    storage,
    sharedCache: backends.sharedCache,
    async restart() {
      await server.close();
      await cache.close();
      cache = newCache();
      server = await start(cache);
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
      await backends.closeBackends();
    },
  };
}
