/**
 * The audit sink (batched writes into the real SqlAccessStore on PGlite) and the /v2 audit
 * recorder (which /v2 exchanges become which events).
 */
import { expect } from 'chai';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { pino } from 'pino';
import { AccessStoreAuditSink, loginAuditHook, v2AuditEvent, v2AuditRecorder } from '../../src/api/index.ts';
import type { AuditEvent } from '../../src/metadata/access-store.ts';
import { migrate } from '../../src/metadata/migrations.ts';
import { PGliteDatabase } from '../../src/metadata/pglite.ts';
import { SqlAccessStore } from '../../src/metadata/sql-access-store.ts';

const DIGEST = 'sha256:' + 'a'.repeat(64);

describe('v2AuditEvent: which /v2 exchanges the audit log keeps', () => {
  const base = { subject: 'alice', digest: undefined, clientAddress: '10.0.0.7' };
  const cases: Array<[string, string, number, Partial<AuditEvent> | undefined]> = [
    ['PUT', '/v2/team/app/manifests/v1', 201, { operation: 'push', resourceType: 'artifact', resource: 'team/app:v1', project: 'team', outcome: 'success' }],
    ['GET', `/v2/team/app/manifests/${DIGEST}`, 200, { operation: 'pull', resource: `team/app@${DIGEST}`, outcome: 'success' }],
    ['DELETE', `/v2/team/sub/app/manifests/${DIGEST}`, 202, { operation: 'delete', resource: `team/sub/app@${DIGEST}`, project: 'team' }],
    ['DELETE', `/v2/team/app/blobs/${DIGEST}`, 202, { operation: 'delete', resourceType: 'blob' }],
    ['PUT', '/v2/team/app/manifests/v1', 403, { operation: 'push', outcome: 'failure' }],
    ['POST', '/v2/team/app/blobs/uploads/', 401, { operation: 'push', resourceType: 'blob', resource: 'team/app', project: 'team', outcome: 'failure' }],
    ['PATCH', '/v2/team/app/blobs/uploads/0b1c', 403, { operation: 'push', resourceType: 'blob', outcome: 'failure' }],
    ['POST', '/v2/team/app/blobs/uploads/', 202, undefined],
    ['DELETE', `/v2/team/app/manifests/${DIGEST}`, 401, { operation: 'delete', outcome: 'failure' }],
    ['HEAD', '/v2/team/app/manifests/v1', 200, undefined],
    ['GET', '/v2/team/app/manifests/v1', 404, undefined],
    ['GET', `/v2/team/app/blobs/${DIGEST}`, 200, undefined],
    ['GET', '/v2/team/app/tags/list', 200, undefined],
    ['GET', '/v2/', 200, undefined],
  ];
  for (const [method, path, status, expected] of cases) {
    it(`${method} ${path} ${status} → ${expected ? expected.operation : 'nothing'}`, () => {
      const event = v2AuditEvent({ ...base, method, path, status });
      if (expected === undefined) expect(event).to.equal(undefined);
      else expect(event).to.deep.include({ principal: 'alice', clientAddress: '10.0.0.7', ...expected });
    });
  }

  it('anonymous exchanges are not recorded', () => {
    expect(v2AuditEvent({ ...base, subject: undefined, method: 'GET', path: '/v2/pub/app/manifests/v1', status: 200 })).to.equal(undefined);
  });

  it('keeps the digest a tag resolved to', () => {
    const event = v2AuditEvent({ ...base, digest: DIGEST, method: 'GET', path: '/v2/team/app/manifests/v1', status: 200 });
    expect(event?.detail).to.deep.equal({ digest: DIGEST });
  });
});

describe('audit sink and /v2 recorder over the real SqlAccessStore (PGlite)', function () {
  this.timeout(60_000);
  let db: PGliteDatabase;
  let store: SqlAccessStore;

  before(async () => {
    db = await PGliteDatabase.open({});
    await migrate(db);
    store = new SqlAccessStore(db);
  });

  after(async () => {
    await db?.close();
  });

  it('writes events in order, in batches, on flush or by itself after the interval', async () => {
    const sink = new AccessStoreAuditSink(store, pino({ level: 'silent' }), { batchSize: 3, flushIntervalMs: 50 });
    for (let i = 0; i < 7; i++) sink.record({ principal: 'batcher', operation: 'pull', resourceType: 'artifact', resource: `r/${i}`, outcome: 'success' });
    await sink.flush();
    const page = await store.queryAudit({ principal: 'batcher' }, { page: 1, pageSize: 20 });
    expect(page.total).to.equal(7);
    expect(page.items.map((e) => e.resource)).to.have.members([0, 1, 2, 3, 4, 5, 6].map((i) => `r/${i}`));
    sink.record({ principal: 'timer', operation: 'push', resourceType: 'artifact', resource: 'r/t', outcome: 'success' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await store.queryAudit({ principal: 'timer' }, { page: 1, pageSize: 5 })).total).to.equal(1);
  });

  it('a failing write is logged and does not throw; the login hook records outcome and channel', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    const broken = new AccessStoreAuditSink({ appendAuditBatch: async () => { throw new Error('database down'); } }, logger);
    broken.record({ principal: 'x', operation: 'pull', resourceType: 'artifact', resource: 'r', outcome: 'success' });
    await broken.flush();
    expect(lines.join('')).to.contain('audit write failed');

    const sink = new AccessStoreAuditSink(store, pino({ level: 'silent' }));
    const hook = loginAuditHook(sink);
    hook({ username: 'mallory', clientAddress: '10.1.1.1', channel: 'token', outcome: 'failure', reason: 'bad-credentials' });
    hook({ username: 'mallory', clientAddress: '10.1.1.1', channel: 'basic', outcome: 'rate-limited' });
    hook({ username: 'mallory', clientAddress: '10.1.1.1', channel: 'basic', outcome: 'failure', reason: 'bad-credentials' });
    hook({ username: 'mallory', clientAddress: '10.1.1.1', channel: 'basic', outcome: 'success' }); // one per request: not kept
    hook({ username: 'mallory', clientAddress: '10.1.1.1', channel: 'session', outcome: 'success' });
    await sink.flush();
    const entries = (await store.queryAudit({ principal: 'mallory' }, { page: 1, pageSize: 5 })).items;
    expect(entries.map((e) => [e.operation, e.outcome, e.detail])).to.have.deep.members([
      ['login', 'failure', { channel: 'token', reason: 'bad-credentials' }],
      ['login', 'failure', { channel: 'basic', reason: 'rate-limited' }],
      ['login', 'failure', { channel: 'basic', reason: 'bad-credentials' }],
      ['login', 'success', { channel: 'session' }],
    ]);
    expect(entries[0]!.clientAddress).to.equal('10.1.1.1');
  });

  it('the recorder sees the subject the /v2 access check set, after the response', async () => {
    const sink = new AccessStoreAuditSink(store, pino({ level: 'silent' }));
    const app = new Koa();
    app.use(v2AuditRecorder(sink));
    app.use(async (ctx) => {
      // Stands in for the /v2 routes: the AccessController's subject, then the answer.
      ctx.state.subject = ctx.get('x-test-subject') || undefined;
      ctx.set('Docker-Content-Digest', DIGEST);
      ctx.status = ctx.method === 'PUT' ? 201 : 200;
    });
    const server = createServer(app.callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      await fetch(`${url}/v2/team/app/manifests/v2`, { method: 'PUT', headers: { 'x-test-subject': 'pusher' }, body: '{}' });
      await fetch(`${url}/v2/team/app/manifests/v2`, { headers: { 'x-test-subject': 'pusher' } });
      await fetch(`${url}/v2/team/app/manifests/v2`);
      await sink.flush();
      const entries = (await store.queryAudit({ resource: 'team/app:v2' }, { page: 1, pageSize: 10 })).items;
      expect(entries.map((e) => `${e.principal} ${e.operation} ${e.outcome}`).sort()).to.deep.equal(['pusher pull success', 'pusher push success']);
      expect(entries[0]!.detail).to.deep.equal({ digest: DIGEST });
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
