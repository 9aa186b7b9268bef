/**
 * The registry's Koa application: the composition of the /v2 data plane over the storage,
 * metadata and cache seams. The composition root (server.ts) builds the seams from the
 * configuration and calls createRegistryApp; nothing here is a module-level singleton.
 */
import Koa from 'koa';
import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import type { BlobStorageDriver } from './storage/driver.ts';
import type { MetadataStore } from './metadata/store.ts';
import type { CacheStore } from './cache/cache.ts';
import { allowEverything, type AccessController } from './http/access.ts';
import { BlobStore } from './domain/blob-store.ts';
import { BlobUploadSessions } from './domain/uploads.ts';
import { ManifestService } from './domain/manifests.ts';
import { registryErrorResponse } from './http/error-response.ts';
import { v2Router } from './http/routes.ts';
import type { V2Services } from './http/context.ts';

export interface RegistryOptions {
  /** Absolute external URL (e.g. http://127.0.0.1:5000) for Location headers; relative Locations when unset. */
  externalURL?: string;
  /** Largest manifest accepted (the spec's clients expect at least 4 MiB); larger → 413 SIZE_INVALID. */
  maxManifestBytes: number;
  /** Lifetime of upload hash states and locks in the cache. */
  uploadSessionTtlSeconds: number;
}

export const defaultRegistryOptions: RegistryOptions = {
  maxManifestBytes: 4 * 1024 * 1024,
  uploadSessionTtlSeconds: 24 * 3600,
};

export interface RegistryDeps {
  storage: BlobStorageDriver;
  metadata: MetadataStore;
  cache: CacheStore;
  logger: Logger;
  options: RegistryOptions;
  /** The auth seam; allows everything when omitted. */
  access?: AccessController;
  /**
   * Routers mounted after /v2 (the token endpoint, the management API), given the /v2
   * services so that deletes through them drop the same caches.
   */
  extraRoutes?: (services: V2Services) => Middleware[];
  /** Middleware around everything, first in line (the /v2 audit recorder sees final statuses). */
  outermost?: Middleware[];
}

export function createRegistryServices(deps: RegistryDeps): V2Services {
  const blobs = new BlobStore({ storage: deps.storage, metadata: deps.metadata, cache: deps.cache });
  return {
    blobs,
    uploads: new BlobUploadSessions({ storage: deps.storage, cache: deps.cache, blobs, records: deps.metadata, ttlSeconds: deps.options.uploadSessionTtlSeconds }),
    manifests: new ManifestService({ metadata: deps.metadata, cache: deps.cache, maxManifestBytes: deps.options.maxManifestBytes }),
    metadata: deps.metadata,
    access: deps.access ?? allowEverything,
    logger: deps.logger,
    externalURL: (deps.options.externalURL ?? '').replace(/\/+$/, ''),
    mountWithoutFrom: deps.access === undefined,
  };
}

export function createRegistryApp(deps: RegistryDeps): Koa {
  const app = new Koa();
  const services = createRegistryServices(deps);
  for (const middleware of deps.outermost ?? []) app.use(middleware);
  app.use(registryErrorResponse(deps.logger));
  app.use(v2Router(services));
  // After /v2, so the data plane's hot path runs through no other middleware.
  for (const routes of deps.extraRoutes?.(services) ?? []) app.use(routes);
  // Errors after the response started (a client that went away mid-blob) are not news.
  app.on('error', (err: Error & { code?: string }) => {
    if (err.code === 'ECONNRESET' || err.code === 'EPIPE' || err.code === 'ERR_STREAM_PREMATURE_CLOSE') return;
    deps.logger.warn({ err }, 'response error');
  });
  return app;
}
