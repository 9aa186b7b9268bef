/**
 * A real listening server for the /api tests: the management API and token endpoint over a
 * real SqlAccessStore and SqlMetadataStore on PGlite, the auth parts built by createAuth
 * (the composition root's path), MemoryCache. Every response passes through `call`, which
 * finds the documented operation, validates the body against its schema and records that
 * the operation was exercised.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { pino, type Logger } from 'pino';
import { Value } from '@sinclair/typebox/value';
import { expect } from 'chai';
import { AuthSchema, createAuth, type AuthParts } from '../../src/auth/config.ts';
import { MemoryCache } from '../../src/cache/memory.ts';
import { ManifestService } from '../../src/domain/manifests.ts';
import { migrate } from '../../src/metadata/migrations.ts';
import { PGliteDatabase } from '../../src/metadata/pglite.ts';
import { PostgresDatabase } from '../../src/metadata/postgres.ts';
import type { SqlDatabase } from '../../src/metadata/store.ts';
import { freshDatabase } from '../metadata/fresh-database.ts';
import { SqlAccessStore } from '../../src/metadata/sql-access-store.ts';
import { SqlMetadataStore } from '../../src/metadata/sql-store.ts';
import { digestOf } from '../../src/oci/digest.ts';
import { mediaTypes } from '../../src/oci/media-types.ts';
import { AccessStoreAuditSink, createManagementRouter, createTokenRouter, loginAuditHook, OPERATIONS, API_PREFIX, type Operation } from '../../src/api/index.ts';
import { ErrorBody } from '../../src/api/schemas.ts';

export interface Harness {
  url: string;
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
  const logLines: string[] = [];
  const logger: Logger = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });
  const audit = new AccessStoreAuditSink(access, logger);
  const externalURL = 'http://registry.test';
  const config = Value.Parse(AuthSchema, { enabled: true, passwordHash: { memoryKiB: 1024, passes: 1 } });
  const auth = await createAuth(config, { cache, identities: access, projects: access, externalURL, onLogin: loginAuditHook(audit) });
  const manifests = new ManifestService({ metadata, cache, maxManifestBytes: 4 * 1024 * 1024 });
  let probeDown = false;
  const app = new Koa();
  app.use(createTokenRouter({ tokens: auth.tokens, externalURL, logger }));
  app.use(
    createManagementRouter({
      access,
      metadata,
      manifests,
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
  );
  const server: Server = createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    access,
    metadata,
    auth,
    manifests,
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

/** Store a small image (config + layer blobs, an OCI manifest) in `repository` under `tags`. */
export async function pushImage(store: SqlMetadataStore, repository: string, tags: string[], seed: string): Promise<string> {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', seed }));
  const layer = Buffer.from(`layer ${seed}`);
  const configDigest = digestOf(config);
  const layerDigest = digestOf(layer);
  await store.putBlob(repository, { digest: configDigest, size: config.length });
  await store.putBlob(repository, { digest: layerDigest, size: layer.length });
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: mediaTypes.ociManifest,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: layer.length }],
    }),
  );
  const digest = digestOf(manifest);
  await store.putManifest(
    { repository, digest, mediaType: mediaTypes.ociManifest, content: manifest, references: { blobs: [configDigest, layerDigest], manifests: [] } },
    tags,
  );
  return digest;
}
