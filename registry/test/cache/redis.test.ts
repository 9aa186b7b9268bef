import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { testEnv } from '../../../e2e/env/test-env.ts';
import { RedisCache } from '../../src/cache/redis.ts';
import { cacheStoreSuite } from './cache-suite.ts';

describe('cache: Redis', function () {
  const prefix = `berth-test-${randomBytes(6).toString('hex')}:`;
  let raw: Redis;

  before(function () {
    raw = new Redis(testEnv().redis.url, { maxRetriesPerRequest: 1 });
  });

  after(async function () {
    // Remove every key this file wrote (all under its random prefix).
    const keys = await raw.keys(`${prefix}*`);
    if (keys.length > 0) await raw.del(...keys);
    expect(await raw.keys(`${prefix}*`)).to.deep.equal([]);
    await raw.quit();
  });

  cacheStoreSuite(async () => new RedisCache({ url: testEnv().redis.url, keyPrefix: `${prefix}suite:` }));

  it('prefixes every key, so two registries sharing a Redis do not see each other', async function () {
    const a = new RedisCache({ url: testEnv().redis.url, keyPrefix: `${prefix}a:` });
    const b = new RedisCache({ url: testEnv().redis.url, keyPrefix: `${prefix}b:` });
    try {
      await a.set('shared-name', 'from a', 60);
      expect(await b.get('shared-name')).to.equal(undefined);
      expect(await b.setIfAbsent('shared-name', 'from b', 60)).to.equal(true);
      expect(await a.deleteIfEquals('shared-name', 'from b')).to.equal(false);
      expect(await a.increment('counter', 60)).to.equal(1);
      expect(await b.increment('counter', 60)).to.equal(1);
      expect(await raw.get(`${prefix}a:shared-name`)).to.equal('from a');
      expect(await raw.get(`${prefix}b:shared-name`)).to.equal('from b');
      expect(await raw.pttl(`${prefix}a:counter`)).to.be.within(1, 60_000);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('sets the TTL in Redis itself', async function () {
    const cache = new RedisCache({ url: testEnv().redis.url, keyPrefix: `${prefix}ttl:` });
    try {
      await cache.set('k', 'v', 30);
      await cache.setIfAbsent('lock', 'v', 20);
      expect(await raw.pttl(`${prefix}ttl:k`)).to.be.within(29_000, 30_000);
      expect(await raw.pttl(`${prefix}ttl:lock`)).to.be.within(19_000, 20_000);
    } finally {
      await cache.close();
    }
  });

  it('fails ping when the password is wrong', async function () {
    const url = new URL(testEnv().redis.url);
    url.password = 'wrong-password';
    const cache = new RedisCache({ url: url.toString(), keyPrefix: prefix });
    try {
      let thrown: unknown;
      try {
        await cache.ping();
      } catch (err) {
        thrown = err;
      }
      expect(thrown).to.be.instanceOf(Error);
    } finally {
      await cache.close();
    }
  });

  it('fails ping, instead of hanging, when nothing listens', async function () {
    const cache = new RedisCache({ url: 'redis://127.0.0.1:1', keyPrefix: prefix });
    try {
      const started = Date.now();
      let thrown: unknown;
      try {
        await cache.ping();
      } catch (err) {
        thrown = err;
      }
      expect(thrown).to.be.instanceOf(Error);
      expect(Date.now() - started).to.be.lessThan(10_000);
    } finally {
      await cache.close();
    }
  });
});
