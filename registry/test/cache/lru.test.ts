import { expect } from 'chai';
import { LruCache } from '../../src/cache/lru.ts';

const bufferCache = (maxBytes: number) => new LruCache<Buffer>({ maxBytes, sizeOf: (b) => b.length });

describe('LruCache', function () {
  it('stores and returns values, and counts entries and bytes', function () {
    const lru = bufferCache(100);
    lru.set('a', Buffer.alloc(10));
    lru.set('b', Buffer.alloc(20));
    expect(lru.get('a')!.length).to.equal(10);
    expect(lru.get('missing')).to.equal(undefined);
    expect(lru.has('b')).to.equal(true);
    expect(lru.size).to.equal(2);
    expect(lru.bytes).to.equal(30);
  });

  it('evicts the least recently used entries to stay within maxBytes', function () {
    const lru = bufferCache(30);
    lru.set('a', Buffer.alloc(10));
    lru.set('b', Buffer.alloc(10));
    lru.set('c', Buffer.alloc(10));
    lru.get('a'); // "b" is now the least recently used
    lru.set('d', Buffer.alloc(10));
    expect(lru.has('b')).to.equal(false);
    expect(lru.has('a')).to.equal(true);
    expect(lru.has('c')).to.equal(true);
    expect(lru.has('d')).to.equal(true);
    expect(lru.bytes).to.equal(30);
    lru.set('e', Buffer.alloc(25));
    expect([...['a', 'c', 'd', 'e'].filter((k) => lru.has(k))]).to.deep.equal(['e']);
    expect(lru.bytes).to.equal(25);
  });

  it('tells onEvict about each entry evicted to make room, least recently used first, and about nothing else', function () {
    const evicted: Array<[string, number]> = [];
    const lru = new LruCache<number>({ maxBytes: 10, sizeOf: (n) => n, onEvict: (key, value) => evicted.push([key, value]) });
    lru.set('a', 4);
    lru.set('b', 4);
    lru.set('a', 3); // replaced: not evicted
    lru.delete('b'); // deleted: not evicted
    lru.set('c', 4);
    lru.set('d', 2);
    lru.get('a'); // "c" is now the least recently used
    lru.set('e', 5); // 14 bytes: "c" goes
    lru.set('g', 3); // 13 bytes: "d", then "a" go
    expect(evicted).to.deep.equal([['c', 4], ['d', 2], ['a', 3]]);
    lru.set('f', 11); // larger than the cache: not stored, nothing evicted
    expect(evicted).to.have.length(3);
    expect(lru.bytes).to.equal(8);
  });

  it('replaces a value and recounts its size', function () {
    const lru = bufferCache(100);
    lru.set('a', Buffer.alloc(40));
    lru.set('a', Buffer.alloc(5));
    expect(lru.size).to.equal(1);
    expect(lru.bytes).to.equal(5);
  });

  it('does not store a value larger than the whole cache, and drops the old value of that key', function () {
    const lru = bufferCache(10);
    lru.set('a', Buffer.alloc(4));
    lru.set('small', Buffer.alloc(3));
    lru.set('a', Buffer.alloc(11));
    expect(lru.has('a')).to.equal(false);
    expect(lru.has('small')).to.equal(true);
    expect(lru.bytes).to.equal(3);
  });

  it('deletes and clears', function () {
    const lru = bufferCache(100);
    lru.set('a', Buffer.alloc(10));
    lru.set('b', Buffer.alloc(10));
    expect(lru.delete('a')).to.equal(true);
    expect(lru.delete('a')).to.equal(false);
    expect(lru.bytes).to.equal(10);
    lru.clear();
    expect(lru.size).to.equal(0);
    expect(lru.bytes).to.equal(0);
  });

  it('accepts other key types and a zero-byte bound', function () {
    const lru = new LruCache<string, number>({ maxBytes: 0, sizeOf: (s) => s.length });
    lru.set(1, '');
    lru.set(2, 'x');
    expect(lru.get(1)).to.equal('');
    expect(lru.has(2)).to.equal(false);
  });
});
