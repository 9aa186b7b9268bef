import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { testEnv } from '../../../e2e/env/test-env.ts';
import { LoginRateLimiter } from '../../src/auth/login-rate-limit.ts';
import { MemoryCache } from '../../src/cache/memory.ts';
import { RedisCache } from '../../src/cache/redis.ts';
import { loginRateLimitSuite } from './login-rate-limit-suite.ts';

describe('auth/login-rate-limit on MemoryCache (embedded)', function () {
  loginRateLimitSuite(() => new MemoryCache(), true);
});

describe('auth/login-rate-limit on real Redis (shared by replicas)', function () {
  const prefix = `berth-test-auth-${randomBytes(6).toString('hex')}:`;
  let raw: Redis;

  before(function () {
    raw = new Redis(testEnv().redis.url, { maxRetriesPerRequest: 1 });
  });

  after(async function () {
    const keys = await raw.keys(`${prefix}*`);
    if (keys.length > 0) await raw.del(...keys);
    expect(await raw.keys(`${prefix}*`)).to.deep.equal([]);
    await raw.quit();
  });

  loginRateLimitSuite(() => new RedisCache({ url: testEnv().redis.url, keyPrefix: prefix }), true);

  it('two replicas share one count (a guesser cannot spread attempts across replicas)', async function () {
    const a = new RedisCache({ url: testEnv().redis.url, keyPrefix: prefix });
    const b = new RedisCache({ url: testEnv().redis.url, keyPrefix: prefix });
    try {
      const replicaA = new LoginRateLimiter(a, { maxFailuresPerUser: 2, windowSeconds: 300 });
      const replicaB = new LoginRateLimiter(b, { maxFailuresPerUser: 2, windowSeconds: 300 });
      const user = `shared-${randomBytes(4).toString('hex')}`;
      await replicaA.recordFailure(user, '192.0.2.1');
      await replicaB.recordFailure(user, '192.0.2.2');
      let code: string | undefined;
      try {
        await replicaA.check(user, '192.0.2.3');
      } catch (err) {
        code = (err as { code?: string }).code;
      }
      expect(code).to.equal('TOOMANYREQUESTS');
      // The counters carry a TTL in Redis itself, so nothing is left behind forever.
      const keys = await raw.keys(`${prefix}auth:login-failures:*`);
      expect(keys.length).to.be.greaterThan(0);
      for (const key of keys) expect(await raw.pttl(key)).to.be.within(1, 301_000);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
