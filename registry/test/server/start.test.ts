import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { testEnv } from '../../../e2e/env/test-env.ts';
import type { BerthConfig } from '../../src/config/schema.ts';
import { PGliteDatabase } from '../../src/metadata/pglite.ts';
import { SqlMetadataStore } from '../../src/metadata/sql-store.ts';
import { validateConfig } from '../../src/config/validate.ts';
import { StartupError, startRegistry } from '../../src/server.ts';
import type { RunningRegistry } from '../../src/server.ts';
import { capturedLogger, closedPort, pullBlob, pushBlob } from './helpers.ts';

/**
 * A migrated, closed PGlite directory copied into each test: a first PGlite start (initdb in
 * WebAssembly) takes seconds, and these tests are about the server, not about initdb.
 */
let pgliteTemplate: string | undefined;
async function preparePgliteTemplate(): Promise<string> {
  if (!pgliteTemplate) {
    const dir = mkdtempSync(join(tmpdir(), 'berth-pglite-template-'));
    const store = new SqlMetadataStore(await PGliteDatabase.open({ dataDirectory: dir }));
    await store.migrate();
    await store.close();
    pgliteTemplate = dir;
  }
  return pgliteTemplate;
}

function embeddedConfig(dir: string, extra: Record<string, unknown> = {}): BerthConfig {
  const metadata = join(dir, 'metadata');
  if (pgliteTemplate && !existsSync(metadata)) cpSync(pgliteTemplate, metadata, { recursive: true });
  return validateConfig({
    http: { address: '127.0.0.1', port: 0 },
    storage: { filesystem: { rootDirectory: join(dir, 'blobs') } },
    database: { pglite: { dataDirectory: metadata } },
    ...extra,
  });
}

async function expectStartupError(work: Promise<unknown>): Promise<StartupError> {
  try {
    await work;
  } catch (error) {
    if (error instanceof StartupError) return error;
    throw error;
  }
  assert.fail('expected the registry to refuse to start');
}

describe('starting the registry from its configuration', () => {
  let dir: string;
  const running: RunningRegistry[] = [];
  const start = async (config: BerthConfig, logger = capturedLogger().logger) => {
    const registry = await startRegistry(config, { logger, backendTimeoutMs: 5000 });
    running.push(registry);
    return registry;
  };

  before(async () => {
    await preparePgliteTemplate();
  });
  after(() => {
    if (pgliteTemplate) rmSync(pgliteTemplate, { recursive: true, force: true });
    pgliteTemplate = undefined;
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'berth-start-'));
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((r) => r.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  describe('embedded backends (filesystem, PGlite, memory)', () => {
    it('answers GET /v2/ with the API version header, and keeps its data across a restart', async () => {
      const { logger, lines } = capturedLogger();
      const first = await start(embeddedConfig(dir), logger);
      assert.match(first.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.notEqual(first.port, 0);

      const base = await fetch(`${first.url}/v2/`);
      assert.equal(base.status, 200);
      assert.equal(base.headers.get('docker-distribution-api-version'), 'registry/2.0');
      assert.ok(lines.some((l) => JSON.parse(l).msg === 'registry listening' && JSON.parse(l).url === first.url), lines.join('\n'));

      const data = randomBytes(4096);
      const digest = await pushBlob(first.url, 'start/restart', data);
      await first.close();
      await assert.rejects(fetch(`${first.url}/v2/`), 'the port still answers after close()');

      const second = await start(embeddedConfig(dir));
      assert.equal((await fetch(`${second.url}/v2/`)).status, 200);
      assert.deepEqual(await pullBlob(second.url, 'start/restart', digest), data);
    });

    it('close() is idempotent and does not wait for idle keep-alive connections', async () => {
      const registry = await start(embeddedConfig(dir));
      const agent = new Agent({ keepAlive: true });
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(`${registry.url}/v2/`, { agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(status, 200);
      const started = Date.now();
      await Promise.all([registry.close(), registry.close()]);
      assert.ok(Date.now() - started < 3000, `close() took ${Date.now() - started} ms with an idle connection open`);
      agent.destroy();
    });

    it('close() lets an upload in flight finish, refusing new connections meanwhile', async () => {
      const registry = await start(embeddedConfig(dir));
      const opened = await fetch(`${registry.url}/v2/start/drain/blobs/uploads/`, { method: 'POST' });
      assert.equal(opened.status, 202);
      const location = new URL(opened.headers.get('location') ?? '', registry.url);

      // A streamed PATCH whose body arrives in two halves, with close() called in between.
      const agent = new Agent({ keepAlive: true });
      const patch = request(location, { method: 'PATCH', agent, headers: { 'content-type': 'application/octet-stream' } });
      const answered = new Promise<{ status: number; range: unknown }>((resolve, reject) => {
        patch.on('response', (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, range: res.headers.range }));
        });
        patch.on('error', reject);
      });
      patch.write(randomBytes(32 * 1024));
      await new Promise((r) => setTimeout(r, 300));

      let closed = false;
      const closing = registry.close().then(() => {
        closed = true;
      });
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(closed, false, 'close() returned while a request was in flight');
      await assert.rejects(fetch(`${registry.url}/v2/`), 'a new connection was accepted while draining');

      patch.end(randomBytes(32 * 1024));
      assert.deepEqual(await answered, { status: 202, range: `0-${64 * 1024 - 1}` });
      await closing;
      assert.equal(closed, true);
      agent.destroy();
    });

    it('close() cuts requests still running after the drain timeout', async () => {
      const registry = await startRegistry(embeddedConfig(dir), { logger: capturedLogger().logger, drainTimeoutMs: 300 });
      running.push(registry);
      const opened = await fetch(`${registry.url}/v2/start/cut/blobs/uploads/`, { method: 'POST' });
      const patch = request(new URL(opened.headers.get('location') ?? '', registry.url), { method: 'PATCH' });
      const failed = new Promise<string>((resolve) => {
        patch.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
        patch.on('response', (res) => resolve(`HTTP ${res.statusCode}`));
      });
      patch.write(randomBytes(1024));
      await new Promise((r) => setTimeout(r, 200));
      const started = Date.now();
      await registry.close();
      assert.ok(Date.now() - started < 3000, `close() took ${Date.now() - started} ms`);
      assert.equal(await failed, 'ECONNRESET');
    });

    it('refuses to start when the port is taken, closing what it opened', async () => {
      const blocker = createServer();
      await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
      const port = (blocker.address() as { port: number }).port;
      try {
        const config = embeddedConfig(dir, { http: { address: '127.0.0.1', port } });
        const error = await expectStartupError(startRegistry(config, { logger: capturedLogger().logger }));
        assert.deepEqual(error.problems, [
          {
            part: 'http',
            message: `cannot listen on 127.0.0.1:${port}: the address is already in use (another registry running?)`,
          },
        ]);
      } finally {
        blocker.close();
      }
      // PGlite was closed: the same data directory opens again in this process.
      const registry = await start(embeddedConfig(dir));
      assert.equal((await fetch(`${registry.url}/v2/`)).status, 200);
    });

    it('listens on an IPv6 address and reports a usable URL for it', async () => {
      const registry = await start(embeddedConfig(dir, { http: { address: '::1', port: 0 } }));
      assert.equal(registry.url, `http://[::1]:${registry.port}`);
      assert.equal((await fetch(`${registry.url}/v2/`)).status, 200);
    });

    it('serves HTTPS when http.tls is set', async () => {
      const certFile = join(dir, 'tls.crt');
      const keyFile = join(dir, 'tls.key');
      execFileSync(
        'openssl',
        ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile,
          '-out', certFile, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
        { stdio: 'ignore' },
      );
      const registry = await start(embeddedConfig(dir, { http: { address: '127.0.0.1', port: 0, tls: { certFile, keyFile } } }));
      assert.match(registry.url, /^https:\/\//);
      const response = await new Promise<{ status: number; version: unknown }>((resolve, reject) => {
        const req = httpsRequest(`${registry.url}/v2/`, { ca: readFileSync(certFile) }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, version: res.headers['docker-distribution-api-version'] }));
        });
        req.on('error', reject);
        req.end();
      });
      assert.deepEqual(response, { status: 200, version: 'registry/2.0' });
    });

    it('picks up a rotated TLS certificate without a restart', async () => {
      const certFile = join(dir, 'tls.crt');
      const keyFile = join(dir, 'tls.key');
      const issue = (name: string) => {
        execFileSync(
          'openssl',
          ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile,
            '-out', certFile, '-days', '1', '-subj', `/CN=${name}`, '-addext', 'subjectAltName=IP:127.0.0.1'],
          { stdio: 'ignore' },
        );
        return readFileSync(certFile);
      };
      const servedName = (url: string, ca: Buffer) =>
        new Promise<string>((resolve, reject) => {
          const req = httpsRequest(`${url}/v2/`, { ca, agent: false }, (res) => {
            const subject = (res.socket as TLSSocket).getPeerCertificate().subject.CN;
            res.resume();
            res.on('end', () => resolve(String(subject)));
          });
          req.on('error', reject);
          req.end();
        });

      const first = issue('first');
      const { logger, lines } = capturedLogger();
      const config = embeddedConfig(dir, { http: { address: '127.0.0.1', port: 0, tls: { certFile, keyFile } } });
      const registry = await startRegistry(config, { logger, tlsReloadIntervalMs: 100 });
      running.push(registry);
      assert.equal(await servedName(registry.url, first), 'first');

      const second = issue('second');
      const deadline = Date.now() + 5000;
      while (!lines.some((l) => JSON.parse(l).msg === 'TLS certificate reloaded') && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(await servedName(registry.url, second), 'second');
    });
  });

  describe('unreachable production backends', () => {
    it('refuses to start, naming every unreachable backend without its secrets', async () => {
      const [pgPort, redisPort, s3Port] = [await closedPort(), await closedPort(), await closedPort()];
      const config = validateConfig({
        http: { port: 0 },
        storage: {
          driver: 's3',
          s3: { endPoint: '127.0.0.1', port: s3Port, useSSL: false, accessKey: 'berth', secretKey: 's3-secret-hunter2', bucket: 'b' },
        },
        database: { driver: 'postgres', postgres: { url: `postgres://berth:pg-hunter2@127.0.0.1:${pgPort}/berth` } },
        cache: { driver: 'redis', redis: { url: `redis://:redis-hunter2@127.0.0.1:${redisPort}/0` } },
      });
      const { logger, lines } = capturedLogger();
      const started = Date.now();
      const error = await expectStartupError(startRegistry(config, { logger, backendTimeoutMs: 5000 }));
      assert.ok(Date.now() - started < 15_000, 'gave up too late');

      const byPart = Object.fromEntries(error.problems.map((p) => [p.part, p.message]));
      assert.deepEqual(Object.keys(byPart).sort(), ['cache', 'metadata', 'storage']);
      assert.match(byPart.storage ?? '', new RegExp(`^storage s3 at http://127\\.0\\.0\\.1:${s3Port}, bucket b: .+`));
      assert.match(byPart.metadata ?? '', new RegExp(`^database postgres at 127\\.0\\.0\\.1:${pgPort}/berth: .+`));
      assert.match(byPart.cache ?? '', new RegExp(`^cache redis at 127\\.0\\.0\\.1:${redisPort}/0: .+`));
      assert.match(error.message, /^The registry cannot start:\n {2}- /);
      const everything = error.message + lines.join('\n');
      assert.ok(!everything.includes('hunter2'), everything);
    });
  });

  describe('production backends (PostgreSQL, Redis, MinIO from testEnv())', () => {
    let database: string;
    let admin: pg.Client;

    before(async () => {
      admin = new pg.Client({ connectionString: testEnv().postgres.url });
      await admin.connect();
    });
    after(async () => {
      await admin.end();
    });
    beforeEach(async () => {
      database = `berth_start_${randomBytes(4).toString('hex')}`;
      await admin.query(`CREATE DATABASE ${database}`);
    });
    afterEach(async () => {
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    });

    function productionConfig(bucket: string): BerthConfig {
      const env = testEnv();
      const dbUrl = new URL(env.postgres.url);
      dbUrl.pathname = `/${database}`;
      return validateConfig({
        http: { port: 0 },
        storage: {
          driver: 's3',
          s3: {
            endPoint: env.minio.endPoint,
            port: env.minio.port,
            useSSL: env.minio.useSSL,
            accessKey: env.minio.accessKey,
            secretKey: env.minio.secretKey,
            bucket,
          },
        },
        database: { driver: 'postgres', postgres: { url: dbUrl.toString(), poolSize: 4 } },
        cache: { driver: 'redis', redis: { url: env.redis.url, keyPrefix: `${database}:` } },
      });
    }

    it('starts (creating the bucket, migrating), serves /v2/, and shares data between two instances', async () => {
      const bucket = `berth-start-${randomBytes(4).toString('hex')}`;
      const config = productionConfig(bucket);
      const { logger, lines } = capturedLogger();
      // Two replicas starting together: migrations run under an advisory lock.
      const [a, b] = await Promise.all([start(config, logger), start(config)]);
      for (const registry of [a, b]) {
        const response = await fetch(`${registry.url}/v2/`);
        assert.equal(response.status, 200);
        assert.equal(response.headers.get('docker-distribution-api-version'), 'registry/2.0');
      }
      const data = randomBytes(64 * 1024);
      const digest = await pushBlob(a.url, 'start/shared', data);
      assert.deepEqual(await pullBlob(b.url, 'start/shared', digest), data);

      const env = testEnv();
      const logged = lines.join('\n');
      for (const secret of [env.minio.secretKey, env.postgres.password, env.redis.password].filter((s) => s.length > 0)) {
        assert.ok(!logged.includes(secret), 'a secret was logged');
      }

      // Restart one instance: the data is still there.
      await a.close();
      const c = await start(config);
      assert.deepEqual(await pullBlob(c.url, 'start/shared', digest), data);
    });
  });
});
