import { expect } from 'chai';
import type { CacheStore } from '../../src/cache/cache.ts';
import { AuthError } from '../../src/auth/errors.ts';
import { LoginRateLimiter } from '../../src/auth/login-rate-limit.ts';
import { FakeCache, TestClock } from './fakes.ts';

async function refusal(promise: Promise<unknown>): Promise<AuthError | undefined> {
  try {
    await promise;
    return undefined;
  } catch (err) {
    if (err instanceof AuthError) return err;
    throw err;
  }
}

/**
 * The limiter's behaviour, run against any CacheStore. Exported so the real caches
 * (MemoryCache, RedisCache) run the same cases against real backends.
 */
export function loginRateLimitSuite(makeCache: (clock: TestClock) => CacheStore | Promise<CacheStore>, realClock: boolean): void {
  let clock: TestClock;
  let cache: CacheStore;

  beforeEach(async () => {
    // Real caches expire on the wall clock, so the limiter uses it too; windows are aligned to it.
    clock = realClock ? new TestClock(Date.now()) : new TestClock(Date.UTC(2026, 10, 23, 12, 0, 0));
    cache = await makeCache(clock);
  });

  afterEach(async () => {
    await cache.close();
  });

  const limiter = (options: ConstructorParameters<typeof LoginRateLimiter>[1] = {}): LoginRateLimiter =>
    new LoginRateLimiter(cache, { now: realClock ? () => new Date() : clock.now, ...options });

  it('allows attempts under the per-user limit and refuses the next with TOOMANYREQUESTS and Retry-After', async () => {
    const user = `alice-${Math.random()}`;
    const rl = limiter({ maxFailuresPerUser: 3, maxFailuresPerAddress: 100, windowSeconds: 300 });
    for (let i = 0; i < 3; i++) {
      expect(await refusal(rl.check(user, '10.0.0.1'))).to.equal(undefined);
      await rl.recordFailure(user, '10.0.0.1');
    }
    const err = await refusal(rl.check(user, '10.0.0.2'));
    expect(err?.code).to.equal('TOOMANYREQUESTS');
    expect(err?.status).to.equal(429);
    expect(err?.retryAfterSeconds).to.be.within(1, 300);
    // Another user from the same address is not affected by alice's lock.
    expect(await refusal(rl.check(`bob-${Math.random()}`, '10.0.0.1'))).to.equal(undefined);
  });

  it('limits per client address across user names', async () => {
    const address = `10.1.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}-${Math.random()}`;
    const rl = limiter({ maxFailuresPerUser: 100, maxFailuresPerAddress: 4, windowSeconds: 300 });
    for (let i = 0; i < 4; i++) await rl.recordFailure(`user${i}-${Math.random()}`, address);
    expect((await refusal(rl.check(`fresh-${Math.random()}`, address)))?.code).to.equal('TOOMANYREQUESTS');
    expect(await refusal(rl.check(`fresh-${Math.random()}`, 'elsewhere'))).to.equal(undefined);
  });

  it('a success clears the user counter but not the address counter', async () => {
    const user = `carol-${Math.random()}`;
    const address = `addr-${Math.random()}`;
    const rl = limiter({ maxFailuresPerUser: 2, maxFailuresPerAddress: 3, windowSeconds: 300 });
    await rl.recordFailure(user, address);
    await rl.recordSuccess(user);
    await rl.recordFailure(user, address);
    expect(await refusal(rl.check(user, address))).to.equal(undefined);
    await rl.recordFailure(user, address);
    expect((await refusal(rl.check(user, 'other')))?.code).to.equal('TOOMANYREQUESTS');
    await rl.recordSuccess(user);
    // The address has 3 failures now: still locked.
    expect((await refusal(rl.check(`x-${Math.random()}`, address)))?.code).to.equal('TOOMANYREQUESTS');
  });

  it('treats user names case-insensitively', async () => {
    const user = `Dave-${Math.random()}`;
    const rl = limiter({ maxFailuresPerUser: 1, maxFailuresPerAddress: 100, windowSeconds: 300 });
    await rl.recordFailure(user, 'a');
    expect((await refusal(rl.check(user.toUpperCase(), 'b')))?.code).to.equal('TOOMANYREQUESTS');
  });

  if (realClock) {
    it('unlocks when the window ends (real expiry)', async function () {
      this.timeout(10_000);
      const user = `erin-${Math.random()}`;
      const rl = limiter({ maxFailuresPerUser: 1, maxFailuresPerAddress: 100, windowSeconds: 2 });
      // Start just after a window boundary so the failure and the check share a window.
      await new Promise((resolve) => setTimeout(resolve, 2000 - (Date.now() % 2000) + 50));
      await rl.recordFailure(user, 'a');
      const err = await refusal(rl.check(user, 'a'));
      expect(err?.code).to.equal('TOOMANYREQUESTS');
      expect(err?.retryAfterSeconds).to.be.within(1, 2);
      await new Promise((resolve) => setTimeout(resolve, (err?.retryAfterSeconds ?? 0) * 1000 + 100));
      expect(await refusal(rl.check(user, 'a'))).to.equal(undefined);
    });
  } else {
    it('unlocks when the window ends, with an exact Retry-After', async () => {
      const rl = limiter({ maxFailuresPerUser: 1, maxFailuresPerAddress: 100, windowSeconds: 60 });
      clock.advance(15); // 15 s into a 60 s window
      await rl.recordFailure('erin', 'a');
      expect((await refusal(rl.check('erin', 'a')))?.retryAfterSeconds).to.equal(45);
      clock.advance(44);
      expect((await refusal(rl.check('erin', 'a')))?.retryAfterSeconds).to.equal(1);
      clock.advance(1);
      expect(await refusal(rl.check('erin', 'a'))).to.equal(undefined);
    });

    it('keeps no user name or address in cache keys', async () => {
      const rl = limiter({ maxFailuresPerUser: 5 });
      await rl.recordFailure('secret-user-name', '192.0.2.7');
      const keys = [...(cache as FakeCache).entries.keys()];
      expect(keys).to.have.length(2);
      for (const key of keys) {
        expect(key).to.match(/^auth:login-failures:(user|addr):[A-Za-z0-9_-]{22}:\d+$/);
        expect(key).to.not.include('secret-user-name');
        expect(key).to.not.include('192.0.2.7');
      }
    });

    it('treats an unreadable counter as over the limit', async () => {
      const rl = limiter({ maxFailuresPerUser: 5 });
      await rl.recordFailure('frank', 'a');
      for (const [key, entry] of (cache as FakeCache).entries) if (key.includes(':user:')) entry.value = Buffer.from('garbage');
      expect((await refusal(rl.check('frank', 'a')))?.code).to.equal('TOOMANYREQUESTS');
    });
  }

  it('without a known address, limits per user only', async () => {
    const rl = limiter({ maxFailuresPerUser: 2, maxFailuresPerAddress: 1, windowSeconds: 300 });
    const user = `gail-${Math.random()}`;
    await rl.recordFailure(user, undefined);
    expect(await refusal(rl.check(`other-${Math.random()}`, undefined))).to.equal(undefined);
    await rl.recordFailure(user, undefined);
    expect((await refusal(rl.check(user, undefined)))?.code).to.equal('TOOMANYREQUESTS');
  });

  it('rejects nonsense limits', () => {
    expect(() => limiter({ maxFailuresPerUser: 0 })).to.throw(RangeError);
    expect(() => limiter({ windowSeconds: 0 })).to.throw(RangeError);
  });
}
