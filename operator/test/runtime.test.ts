import assert from 'node:assert/strict';
import { PerKeyBackoff } from '../src/runtime/backoff.ts';
import { TokenBucket } from '../src/runtime/rate-limit.ts';
import { WorkQueue } from '../src/runtime/work-queue.ts';
import { setConditions } from '../src/runtime/conditions.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('operator runtime: work queue', () => {
  it('deduplicates a key added several times while waiting', async () => {
    const q = new WorkQueue();
    q.add('a');
    q.add('b');
    q.add('a');
    assert.equal(q.length, 2);
    assert.equal(await q.get(), 'a');
    assert.equal(await q.get(), 'b');
    assert.equal(q.length, 0);
  });

  it('never hands a key to two workers; a key added while processing comes back after done()', async () => {
    const q = new WorkQueue();
    q.add('a');
    const key = await q.get();
    q.add('a');
    assert.equal(q.length, 0, 'the key in progress must not be queued twice');
    let second: string | undefined;
    void q.get().then((k) => (second = k));
    await sleep(5);
    assert.equal(second, undefined);
    q.done(key!);
    await sleep(5);
    assert.equal(second, 'a');
  });

  it('wakes a waiting worker when a key is added', async () => {
    const q = new WorkQueue();
    const got = q.get();
    q.add('x');
    assert.equal(await got, 'x');
  });

  it('retries failed keys with growing per-key delays and forgets them on success', () => {
    const q = new WorkQueue({ backoff: { baseMs: 10, maxMs: 1000 } });
    assert.equal(q.addRateLimited('a'), 10);
    assert.equal(q.addRateLimited('a'), 20);
    assert.equal(q.addRateLimited('a'), 40);
    assert.equal(q.addRateLimited('b'), 10, 'backoff is per key');
    q.forget('a');
    assert.equal(q.addRateLimited('a'), 10);
    q.shutDown();
  });

  it('delivers a delayed key after its delay, and keeps the earliest of two delays', async () => {
    const q = new WorkQueue();
    q.addAfter('a', 200);
    q.addAfter('a', 20);
    const started = Date.now();
    assert.equal(await q.get(), 'a');
    const waited = Date.now() - started;
    assert.ok(waited >= 15 && waited < 150, `waited ${waited} ms`);
    q.shutDown();
  });

  it('returns undefined to waiting workers on shutdown', async () => {
    const q = new WorkQueue();
    const got = q.get();
    q.shutDown();
    assert.equal(await got, undefined);
  });
});

describe('operator runtime: backoff and rate limit', () => {
  it('caps the exponential backoff', () => {
    const b = new PerKeyBackoff({ baseMs: 100, maxMs: 1000 });
    const delays = Array.from({ length: 60 }, () => b.next('k'));
    assert.deepEqual(delays.slice(0, 5), [100, 200, 400, 800, 1000]);
    assert.equal(delays[59], 1000);
  });

  it('lets a burst through, then spaces requests at the rate', () => {
    let now = 0;
    const bucket = new TokenBucket(10, 3, () => now);
    assert.deepEqual([bucket.reserve(), bucket.reserve(), bucket.reserve()], [0, 0, 0]);
    assert.equal(bucket.reserve(), 100);
    assert.equal(bucket.reserve(), 200);
    now = 10_000;
    assert.equal(bucket.reserve(), 0, 'tokens refill over time');
  });

  it('applies the global rate limit on top of the per-key backoff', () => {
    const q = new WorkQueue({ backoff: { baseMs: 1, maxMs: 10 }, retriesPerSecond: 1, retryBurst: 1 });
    assert.equal(q.addRateLimited('a'), 1);
    assert.ok(q.addRateLimited('b') >= 900, 'second retry waits for the bucket');
    q.shutDown();
  });
});

describe('operator runtime: conditions', () => {
  it('keeps lastTransitionTime while the status does not change, and moves it when it does', () => {
    const t1 = new Date('2026-01-01T00:00:00Z');
    const t2 = new Date('2026-01-01T01:00:00Z');
    const first = setConditions(undefined, [{ type: 'Ready', status: 'False', reason: 'Progressing', message: 'waiting' }], 1, t1);
    const same = setConditions(first, [{ type: 'Ready', status: 'False', reason: 'Progressing', message: 'still waiting' }], 2, t2);
    assert.equal(same[0]!.lastTransitionTime, '2026-01-01T00:00:00Z');
    assert.equal(same[0]!.observedGeneration, 2);
    assert.equal(same[0]!.message, 'still waiting');
    const flipped = setConditions(same, [{ type: 'Ready', status: 'True', reason: 'Available', message: 'ok' }], 2, t2);
    assert.equal(flipped[0]!.lastTransitionTime, '2026-01-01T01:00:00Z');
    assert.equal(flipped.length, 1);
  });
});
