import { expect } from 'chai';
import { RegistryError } from '../../src/errors.ts';
import { isValidRepositoryName, isValidTag, parseDigest, parseReference, tryParseDigest } from '../../src/oci/grammar.ts';

function codeOf(work: () => unknown): string | undefined {
  try {
    work();
  } catch (err) {
    return err instanceof RegistryError ? err.code : 'not a RegistryError';
  }
  return undefined;
}

describe('oci grammar', function () {
  it('accepts repository names of the spec grammar and refuses the rest', function () {
    for (const name of ['a', 'library/ubuntu', 'a.b/c_d/e__f/g-h/i--j', 'x0/1y', `${'a'.repeat(255)}`]) {
      expect(isValidRepositoryName(name), name).to.equal(true);
    }
    for (const name of ['', 'A', 'a/B', '..', 'a/../b', 'a//b', '/a', 'a/', '-a', 'a-', 'a..b', 'a___b', 'a._b', 'a:b', `${'a'.repeat(256)}`, `${'a'.repeat(128)}/${'b'.repeat(127)}`]) {
      expect(isValidRepositoryName(name), name).to.equal(false);
    }
  });

  it('accepts tags of up to 128 characters that do not start with . or -', function () {
    for (const tag of ['latest', 'v1.2.3', '_x', 'A-b_c.d', 'a'.repeat(128)]) expect(isValidTag(tag), tag).to.equal(true);
    for (const tag of ['', '.a', '-a', 'a/b', 'a:b', 'a'.repeat(129), 'ä']) expect(isValidTag(tag), tag).to.equal(false);
  });

  it('parses sha256 and sha512 digests and refuses others with DIGEST_INVALID', function () {
    expect(tryParseDigest(`sha256:${'a'.repeat(64)}`)).to.deep.include({ algorithm: 'sha256', encoded: 'a'.repeat(64) });
    expect(tryParseDigest(`sha512:${'0'.repeat(128)}`)?.algorithm).to.equal('sha512');
    for (const bad of ['sha256:', 'sha256:abc', `sha256:${'A'.repeat(64)}`, `sha256:${'g'.repeat(64)}`, `sha512:${'a'.repeat(64)}`, `md5:${'a'.repeat(32)}`, 'nocolon']) {
      expect(codeOf(() => parseDigest(bad)), bad).to.equal('DIGEST_INVALID');
    }
  });

  it('tells tags from digests in a manifest reference', function () {
    expect(parseReference('latest')).to.deep.equal({ kind: 'tag', tag: 'latest' });
    expect(parseReference(`sha256:${'b'.repeat(64)}`).kind).to.equal('digest');
    expect(codeOf(() => parseReference('sha256:zz'))).to.equal('DIGEST_INVALID');
    expect(codeOf(() => parseReference('-tag'))).to.equal('MANIFEST_INVALID');
  });
});
