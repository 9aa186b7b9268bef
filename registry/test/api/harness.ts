/**
 * A real listening server for the /api and /v2 auth tests, wired as the composition root
 * (server.ts) wires it with auth on: the /v2 registry app with the token AccessController and
 * the audit recorder, the token endpoint and the management API, over a real SqlAccessStore
 * and SqlMetadataStore (PGlite or PostgreSQL), blobs on the filesystem in a temporary
 * directory, the auth parts built by createAuth, MemoryCache. Every /api response passes
 * through `call`, which finds the documented operation, validates the body against its
 * schema and records that the operation was exercised.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { Value } from '@sinclair/typebox/value';
import { expect } from 'chai';
import { AuthSchema, createAuth, type AuthParts } from '../../src/auth/config.ts';
import { MemoryCache } from '../../src/cache/memory.ts';
import { createRegistryApp } from '../../src/app.ts';
import type { ManifestService } from '../../src/domain/manifests.ts';
import { migrate } from '../../src/metadata/migrations.ts';
import { PGliteDatabase } from '../../src/metadata/pglite.ts';
import { PostgresDatabase } from '../../src/metadata/postgres.ts';
import type { SqlDatabase } from '../../src/metadata/store.ts';
import { freshDatabase } from '../metadata/fresh-database.ts';
import { SqlAccessStore } from '../../src/metadata/sql-access-store.ts';
import { SqlMetadataStore } from '../../src/metadata/sql-store.ts';
import { FilesystemDriver } from '../../src/storage/filesystem.ts';
import { digestOf } from '../../src/oci/digest.ts';
import { mediaTypes } from '../../src/oci/media-types.ts';
import { AccessStoreAuditSink, createManagementRouter, createTokenRouter, loginAuditHook, v2AuditRecorder, OPERATIONS, API_PREFIX, type Operation } from '../../src/api/index.ts';
import { ErrorBody } from '../../src/api/schemas.ts';

export interface Harness {
  url: string;
  /** The token realm's base: challenges name `${externalURL}/service/token`. */
  externalURL: string;
  access: SqlAccessStore;
  metadata: SqlMetadataStore;
  auth: AuthParts;
  /** The ManifestService the API deletes through (its caches are what /v2 reads). */
  manifests: ManifestService;
  audit: AccessStoreAuditSink;
  /** Make the "probe" health component fail (or recover). */
  setProbeDown(down: boolean): void;
  /** Log lines written by the server (to search for secrets). */
  logLines: string[];
  close(): Promise<void>;
}

/** A database for one harness, and how to dispose of it. */
export interface HarnessDatabase {
  db: SqlDatabase;
  dispose(): Promise<void>;
}

export type OpenHarnessDatabase = () => Promise<HarnessDatabase>;

export const openPGlite: OpenHarnessDatabase = async () => {
  const db = await PGliteDatabase.open({});
  return { db, dispose: () => db.close() };
};

export const openPostgres: OpenHarnessDatabase = async () => {
  const database = await freshDatabase();
  const db = new PostgresDatabase({ url: database.url, poolSize: 4 });
  return {
    db,
    async dispose() {
      await db.close();
      await database.drop();
    },
  };
};

export async function startHarness(open: OpenHarnessDatabase = openPGlite): Promise<Harness> {
  const { db, dispose } = await open();
  await migrate(db);
  const access = new SqlAccessStore(db);
  const metadata = new SqlMetadataStore(db);
  const cache = new MemoryCache();
  const blobsDir = await mkdtemp(join(tmpdir(), 'berth-harness-'));
  const storage = new FilesystemDriver({ rootDirectory: blobsDir });
  const logLines: string[] = [];
  const logger: Logger = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });
  const audit = new AccessStoreAuditSink(access, logger);
  const externalURL = 'http://registry.test';
  const config = Value.Parse(AuthSchema, { enabled: true, passwordHash: { memoryKiB: 1024, passes: 1 } });
  const auth = await createAuth(config, { cache, identities: access, projects: access, externalURL, onLogin: loginAuditHook(audit) });
  let manifests: ManifestService | undefined;
  let probeDown = false;
  const app = createRegistryApp({
    storage,
    metadata,
    cache,
    logger,
    options: { externalURL, maxManifestBytes: 4 * 1024 * 1024, uploadSessionTtlSeconds: 3600 },
    access: auth.access,
    outermost: [v2AuditRecorder(audit)],
    extraRoutes: (services) => {
      manifests = services.manifests;
      return [
        createTokenRouter({ tokens: auth.tokens, externalURL, logger }),
        createManagementRouter({
          access,
          metadata,
          manifests: services.manifests,
          cache,
          authenticator: auth.authenticator,
          passwords: auth.passwords,
          audit,
          health: {
            metadata: () => metadata.ping(),
            cache: () => cache.ping(),
            probe: async () => {
              if (probeDown) throw new Error('connect ECONNREFUSED redis://user:hunter2@10.0.0.1:6379');
            },
          },
          system: { version: '0.1.0-test', externalURL },
          logger,
        }),
      ];
    },
  });
  const server: Server = createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    externalURL,
    access,
    metadata,
    auth,
    manifests: manifests!,
    audit,
    logLines,
    setProbeDown: (down) => {
      probeDown = down;
    },
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await audit.flush();
      await cache.close();
      await dispose();
      await storage.close();
      await rm(blobsDir, { recursive: true, force: true });
    },
  };
}

export interface CallOptions {
  /** [user, password] for Basic auth. */
  as?: readonly [string, string] | undefined;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface CallResult {
  status: number;
  headers: Headers;
  text: string;
  json: any;
  operation: Operation | undefined;
}

/** Operations seen by `call`, as "METHOD template", per server URL. */
export const exercised = new Map<string, Set<string>>();

export function operationFor(method: string, pathname: string): Operation | undefined {
  if (!pathname.startsWith(API_PREFIX + '/')) return undefined;
  const segments = pathname.slice(API_PREFIX.length).split('/');
  const candidates = OPERATIONS.filter((op) => {
    if (op.method !== method.toLowerCase()) return false;
    const parts = op.path.split('/');
    return parts.length === segments.length && parts.every((p, i) => p.startsWith('{') || p === segments[i]);
  });
  // A literal segment beats a parameter (/users/current over /users/{user_id}).
  candidates.sort((a, b) => literalCount(b.path) - literalCount(a.path));
  return candidates[0];
}

function literalCount(path: string): number {
  return path.split('/').filter((p) => !p.startsWith('{')).length;
}

export async function call(base: string, method: string, path: string, options: CallOptions = {}): Promise<CallResult> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.as) headers['authorization'] = `Basic ${Buffer.from(`${options.as[0]}:${options.as[1]}`).toString('base64')}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(base + path, { method, headers, ...(body !== undefined ? { body } : {}), redirect: 'manual' });
  const text = await response.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  const operation = operationFor(method, new URL(base + path).pathname);
  if (operation) {
    if (!exercised.has(base)) exercised.set(base, new Set());
    exercised.get(base)!.add(`${operation.method.toUpperCase()} ${operation.path}`);
    const documented = operation.responses[response.status];
    const where = `${method} ${path} → ${response.status} ${text.slice(0, 300)}`;
    if (response.status >= 400 && documented === undefined) {
      if (method !== 'HEAD') expect(Value.Check(ErrorBody, json), `error body of ${where}`).to.equal(true);
    } else {
      expect(documented, `undocumented status: ${where}`).to.not.equal(undefined);
      if (documented?.schema && method !== 'HEAD') {
        const value = documented.text ? text : json;
        const errors = [...Value.Errors(documented.schema, value)].slice(0, 3).map((e) => `${e.path}: ${e.message}`);
        expect(errors, `response of ${where}`).to.deep.equal([]);
      }
      if (operation.paged && response.status === 200) expect(response.headers.get('x-total-count'), `X-Total-Count on ${where}`).to.match(/^\d+$/);
    }
  }
  return { status: response.status, headers: response.headers, text, json, operation };
}

/** A small image: a config and a layer blob, and the OCI manifest naming them. */
export interface TestImage {
  config: Buffer;
  layer: Buffer;
  configDigest: string;
  layerDigest: string;
  manifest: Buffer;
  /** The manifest's digest. */
  digest: string;
}

/** A distinct small image for each `seed` (so every blob and manifest digest differs). */
export function testImage(seed: string): TestImage {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', seed }));
  const layer = Buffer.from(`layer ${seed}`);
  const configDigest = digestOf(config);
  const layerDigest = digestOf(layer);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: mediaTypes.ociManifest,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: layer.length }],
    }),
  );
  return { config, layer, configDigest, layerDigest, manifest, digest: digestOf(manifest) };
}

/** Store a small image's metadata (blobs linked, manifest) in `repository` under `tags`; no blob bytes. */
export async function pushImage(store: SqlMetadataStore, repository: string, tags: string[], seed: string): Promise<string> {
  const image = testImage(seed);
  await store.putBlob(repository, { digest: image.configDigest, size: image.config.length });
  await store.putBlob(repository, { digest: image.layerDigest, size: image.layer.length });
  await store.putManifest(
    {
      repository,
      digest: image.digest,
      mediaType: mediaTypes.ociManifest,
      content: image.manifest,
      references: { blobs: [image.configDigest, image.layerDigest], manifests: [] },
    },
    tags,
  );
  return image.digest;
}
