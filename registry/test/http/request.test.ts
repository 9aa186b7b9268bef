import { expect } from 'chai';
import { parseByteRange, parseContentRange, parsePageSize } from '../../src/http/request.ts';
import { RegistryError } from '../../src/errors.ts';

describe('http request parsing', function () {
  it('resolves blob Range headers against the size', function () {
    expect(parseByteRange(undefined, 100)).to.equal(undefined);
    expect(parseByteRange('bytes=0-9', 100)).to.deep.equal({ start: 0, end: 9 });
    expect(parseByteRange('bytes=90-', 100)).to.deep.equal({ start: 90, end: 99 });
    expect(parseByteRange('bytes=90-500', 100)).to.deep.equal({ start: 90, end: 99 });
    expect(parseByteRange('bytes=-10', 100)).to.deep.equal({ start: 90, end: 99 });
    expect(parseByteRange('bytes=-500', 100)).to.deep.equal({ start: 0, end: 99 });
    expect(parseByteRange('bytes=100-', 100)).to.equal('unsatisfiable');
    expect(parseByteRange('bytes=50-10', 100)).to.equal('unsatisfiable');
    expect(parseByteRange('bytes=0-', 0)).to.equal('unsatisfiable');
    // Multiple ranges and other units are not served: the whole blob is.
    expect(parseByteRange('bytes=0-1,5-6', 100)).to.equal(undefined);
    expect(parseByteRange('items=0-1', 100)).to.equal(undefined);
  });

  it('parses Content-Range of chunks, malformed ones into a range no session matches', function () {
    expect(parseContentRange(undefined)).to.equal(undefined);
    expect(parseContentRange('0-99')).to.deep.equal({ start: 0, end: 99 });
    expect(parseContentRange('bytes 100-199/*')).to.deep.equal({ start: 100, end: 199 });
    expect(parseContentRange('junk')).to.deep.equal({ start: -1, end: -1 });
  });

  it('validates the page size n', function () {
    expect(parsePageSize(undefined)).to.equal(undefined);
    expect(parsePageSize('0')).to.equal(0);
    expect(parsePageSize(['5', '6'])).to.equal(5);
    for (const bad of ['-1', 'x', '1.5', '99999999999']) {
      expect(() => parsePageSize(bad), bad).to.throw(RegistryError).with.property('code', 'PAGINATION_NUMBER_INVALID');
    }
  });
});
