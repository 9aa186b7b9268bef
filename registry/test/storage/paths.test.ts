import assert from 'node:assert/strict';
import { InvalidOffsetError, InvalidPathError } from '../../src/storage/driver.ts';
import { checkPath, checkPrefix, checkRange, isValidSegment, parentPath } from '../../src/storage/paths.ts';

describe('storage path and range rules', function () {
  it('accepts layout paths and returns them unchanged', function () {
    for (const path of ['blobs/sha256/ab/abcdef/data', '_uploads/3f2a-11/parts/0000000000000042', 'a', 'A-b_c:d.e']) {
      assert.equal(checkPath('test', path), path);
    }
  });

  it('rejects traversal, absolute, empty segments and foreign characters with the driver and path named', function () {
    for (const path of ['', '/', '/a', 'a/', 'a//b', '.', '..', 'a/..', '../a', '.tmp/x', 'a/b c', 'a%2fb', 'a\nb']) {
      assert.throws(
        () => checkPath('s3', path),
        (err: unknown) => err instanceof InvalidPathError && err.driver === 's3' && err.path === path,
        JSON.stringify(path),
      );
    }
  });

  it('allows the empty prefix only for prefixes', function () {
    assert.equal(checkPrefix('test', ''), '');
    assert.equal(checkPrefix('test', 'a/b'), 'a/b');
    assert.throws(() => checkPrefix('test', 'a/'), InvalidPathError);
  });

  it('tells valid segments apart', function () {
    assert.equal(isValidSegment('data'), true);
    assert.equal(isValidSegment('.tmp'), false);
    assert.equal(isValidSegment('a/b'), false);
    assert.equal(isValidSegment(''), false);
  });

  it('finds parent paths', function () {
    assert.equal(parentPath('a/b/c'), 'a/b');
    assert.equal(parentPath('a'), '');
  });

  it('checks ranges against the object size', function () {
    checkRange('t', 'p', undefined, 0);
    checkRange('t', 'p', { offset: 0 }, 0);
    checkRange('t', 'p', { offset: 10 }, 10);
    checkRange('t', 'p', { offset: 3, end: 3 }, 10);
    checkRange('t', 'p', { offset: 3, end: 99 }, 10); // clamped by the reader, not an error
    for (const range of [{ offset: 11 }, { offset: -1 }, { offset: 0.5 }, { offset: 5, end: 4 }, { offset: 0, end: Number.NaN }]) {
      assert.throws(() => checkRange('t', 'p', range, 10), InvalidOffsetError, JSON.stringify(range));
    }
  });
});
