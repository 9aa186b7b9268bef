import { expect } from 'chai';
import { MemoryCache } from '../../src/cache/memory.ts';
import { cacheStoreSuite } from './cache-suite.ts';

describe('cache: memory', function () {
  cacheStoreSuite(async () => new MemoryCache({}));

  it('evicts the oldest written entries beyond maxEntries', async function () {
    const cache = new MemoryCache({ maxEntries: 3 });
    try {
      await cache.set('a', '1', 60);
      await cache.set('b', '2', 60);
      await cache.set('c', '3', 60);
      await cache.set('a', '1 again', 60); // rewriting moves "a" to the newest end
      await cache.set('d', '4', 60);
      expect(cache.size).to.equal(3);
      expect(await cache.get('b')).to.equal(undefined);
      expect((await cache.get('a'))?.toString()).to.equal('1 again');
      expect((await cache.get('c'))?.toString()).to.equal('3');
      expect((await cache.get('d'))?.toString()).to.equal('4');
    } finally {
      await cache.close();
    }
  });

  it('sweeps expired entries that nobody reads', async function () {
    const cache = new MemoryCache({ sweepIntervalMs: 50 });
    try {
      await cache.set('gone', 'x', 0.1);
      await cache.set('kept', 'y', 60);
      expect(cache.size).to.equal(2);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(cache.size).to.equal(1);
    } finally {
      await cache.close();
    }
  });

  it('returns copies, so callers cannot change what is stored', async function () {
    const cache = new MemoryCache({});
    try {
      const value = Buffer.from('abc');
      await cache.set('k', value, 60);
      value[0] = 0x78;
      const got = (await cache.get('k'))!;
      got[1] = 0x78;
      expect((await cache.get('k'))!.toString()).to.equal('abc');
    } finally {
      await cache.close();
    }
  });

  it('refuses a maxEntries below 1', function () {
    expect(() => new MemoryCache({ maxEntries: 0 })).to.throw(RangeError);
  });
});
