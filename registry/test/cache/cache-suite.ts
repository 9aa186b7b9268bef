/**
 * The shared suite of the cache seam: every CacheStore must pass it. Run by memory.test.ts
 * and redis.test.ts. One cache serves the suite; each test uses its own keys.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import type { CacheStore } from '../../src/cache/cache.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  return undefined;
}

export function cacheStoreSuite(open: () => Promise<CacheStore>): void {
  let cache: CacheStore;
  let n = 0;
  const key = (name = 'k') => `suite:${randomBytes(4).toString('hex')}:${(n += 1)}:${name}`;

  before(async function () {
    cache = await open();
  });

  after(async function () {
    await cache?.close();
  });

  it('answers ping', async function () {
    await cache.ping();
  });

  it('returns undefined for a missing key', async function () {
    expect(await cache.get(key())).to.equal(undefined);
  });

  it('stores strings and binary values and returns Buffers', async function () {
    const text = key('text');
    const binary = key('bin');
    const bytes = Buffer.concat([Buffer.from([0, 0xff, 0x80, 0x0a]), randomBytes(64 * 1024)]);
    await cache.set(text, 'héllo', 60);
    await cache.set(binary, bytes, 60);
    const got = await cache.get(text);
    expect(Buffer.isBuffer(got)).to.equal(true);
    expect(got!.toString('utf8')).to.equal('héllo');
    expect((await cache.get(binary))!.equals(bytes)).to.equal(true);
  });

  it('overwrites a value and its TTL', async function () {
    const k = key();
    await cache.set(k, 'one', 0.3);
    await cache.set(k, 'two', 60);
    await sleep(450);
    expect((await cache.get(k))?.toString()).to.equal('two');
  });

  it('keeps keys with separators and unicode apart', async function () {
    const base = key();
    await cache.set(`${base}/a:b`, 'x', 60);
    await cache.set(`${base}/a:b:c`, 'y', 60);
    await cache.set(`${base}/ü`, 'z', 60);
    expect((await cache.get(`${base}/a:b`))!.toString()).to.equal('x');
    expect((await cache.get(`${base}/a:b:c`))!.toString()).to.equal('y');
    expect((await cache.get(`${base}/ü`))!.toString()).to.equal('z');
  });

  it('expires a value after its TTL', async function () {
    const k = key();
    await cache.set(k, 'short', 0.3);
    expect((await cache.get(k))?.toString()).to.equal('short');
    await sleep(450);
    expect(await cache.get(k)).to.equal(undefined);
  });

  it('refuses a TTL that is not positive', async function () {
    expect(await rejection(cache.set(key(), 'v', 0))).to.be.instanceOf(RangeError);
    expect(await rejection(cache.set(key(), 'v', -5))).to.be.instanceOf(RangeError);
    expect(await rejection(cache.setIfAbsent(key(), 'v', 0))).to.be.instanceOf(RangeError);
    expect(await rejection(cache.increment(key(), 0))).to.be.instanceOf(RangeError);
  });

  it('deletes several keys at once, ignoring missing ones and an empty list', async function () {
    const [a, b, c] = [key('a'), key('b'), key('c')];
    await cache.set(a, '1', 60);
    await cache.set(b, '2', 60);
    await cache.set(c, '3', 60);
    await cache.delete(a, b, key('missing'));
    await cache.delete();
    expect(await cache.get(a)).to.equal(undefined);
    expect(await cache.get(b)).to.equal(undefined);
    expect((await cache.get(c))?.toString()).to.equal('3');
  });

  describe('setIfAbsent', function () {
    it('stores only when the key is absent', async function () {
      const k = key();
      expect(await cache.setIfAbsent(k, 'first', 60)).to.equal(true);
      expect(await cache.setIfAbsent(k, 'second', 60)).to.equal(false);
      expect((await cache.get(k))?.toString()).to.equal('first');
    });

    it('stores again once the previous value expired, with its TTL', async function () {
      const k = key();
      expect(await cache.setIfAbsent(k, 'lock', 0.3)).to.equal(true);
      await sleep(450);
      expect(await cache.get(k)).to.equal(undefined);
      expect(await cache.setIfAbsent(k, 'again', 60)).to.equal(true);
      expect((await cache.get(k))?.toString()).to.equal('again');
    });

    it('lets exactly one of many parallel callers win', async function () {
      const k = key();
      const results = await Promise.all(Array.from({ length: 25 }, (_, i) => cache.setIfAbsent(k, `owner-${i}`, 60)));
      expect(results.filter(Boolean)).to.have.length(1);
      const winner = results.indexOf(true);
      expect((await cache.get(k))?.toString()).to.equal(`owner-${winner}`);
    });
  });

  describe('deleteIfEquals', function () {
    it('deletes only when the key holds the value', async function () {
      const k = key();
      await cache.set(k, 'token-a', 60);
      expect(await cache.deleteIfEquals(k, 'token-b')).to.equal(false);
      expect((await cache.get(k))?.toString()).to.equal('token-a');
      expect(await cache.deleteIfEquals(k, 'token-a')).to.equal(true);
      expect(await cache.get(k)).to.equal(undefined);
      expect(await cache.deleteIfEquals(k, 'token-a')).to.equal(false);
    });

    it('compares binary values byte for byte, and strings with their UTF-8 bytes', async function () {
      const k = key();
      const value = Buffer.from([0, 1, 2, 0xff]);
      await cache.set(k, value, 60);
      expect(await cache.deleteIfEquals(k, Buffer.from([0, 1, 2, 0xfe]))).to.equal(false);
      expect(await cache.deleteIfEquals(k, Buffer.from([0, 1, 2]))).to.equal(false);
      expect(await cache.deleteIfEquals(k, Buffer.from(value))).to.equal(true);
      const text = key();
      await cache.set(text, Buffer.from('ünïcode'), 60);
      expect(await cache.deleteIfEquals(text, 'ünïcode')).to.equal(true);
    });

    it('releases a lock only for its owner', async function () {
      const k = key('lock');
      expect(await cache.setIfAbsent(k, 'owner-1', 60)).to.equal(true);
      expect(await cache.deleteIfEquals(k, 'owner-2')).to.equal(false);
      expect(await cache.setIfAbsent(k, 'owner-2', 60)).to.equal(false);
      expect(await cache.deleteIfEquals(k, 'owner-1')).to.equal(true);
      expect(await cache.setIfAbsent(k, 'owner-2', 60)).to.equal(true);
    });
  });

  describe('increment', function () {
    it('counts from 1 and reads back as decimal text', async function () {
      const k = key();
      expect(await cache.increment(k, 60)).to.equal(1);
      expect(await cache.increment(k, 60)).to.equal(2);
      expect(await cache.increment(k, 60)).to.equal(3);
      expect((await cache.get(k))?.toString()).to.equal('3');
    });

    it('is atomic under parallel callers', async function () {
      const k = key();
      const values = await Promise.all(Array.from({ length: 50 }, () => cache.increment(k, 60)));
      expect([...values].sort((a, b) => a - b)).to.deep.equal(Array.from({ length: 50 }, (_, i) => i + 1));
    });

    it('sets the TTL when the counter is created, and later increments do not extend it', async function () {
      const k = key();
      expect(await cache.increment(k, 0.5)).to.equal(1);
      await sleep(250);
      expect(await cache.increment(k, 60)).to.equal(2);
      await sleep(400);
      expect(await cache.get(k)).to.equal(undefined);
      expect(await cache.increment(k, 60)).to.equal(1);
    });
  });
}
