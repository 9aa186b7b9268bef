import { expect } from 'chai';
import { Argon2PasswordHasher, generateSecret, hashSecret, verifySecret } from '../../src/auth/secrets.ts';

describe('auth/secrets: password hashing (argon2id)', () => {
  // Light parameters keep the unit tests fast; production uses the OWASP defaults.
  const hasher = new Argon2PasswordHasher({ memoryCost: 1024, timeCost: 1 });

  it('hashes with argon2id, a fresh salt each time, and verifies', async () => {
    const a = await hasher.hash('correct horse battery staple');
    const b = await hasher.hash('correct horse battery staple');
    expect(a).to.match(/^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
    expect(a).to.not.equal(b);
    expect(a).to.not.include('correct horse');
    expect(await hasher.verify(a, 'correct horse battery staple')).to.equal(true);
    expect(await hasher.verify(a, 'correct horse battery stapl')).to.equal(false);
    expect(await hasher.verify(a, '')).to.equal(false);
  });

  it('uses the OWASP argon2id parameters by default', async () => {
    const hash = await new Argon2PasswordHasher().hash('pw');
    expect(hash).to.match(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  });

  it('verifies hashes made with other parameters (parameters live in the hash)', async () => {
    const old = await new Argon2PasswordHasher({ memoryCost: 2048, timeCost: 2 }).hash('pw');
    expect(await hasher.verify(old, 'pw')).to.equal(true);
  });

  it('says no, without throwing, to garbage or foreign hashes', async () => {
    expect(await hasher.verify('', 'pw')).to.equal(false);
    expect(await hasher.verify('$argon2id$garbage', 'pw')).to.equal(false);
    expect(await hasher.verify('$2b$10$abcdefghijklmnopqrstuv', 'pw')).to.equal(false);
    expect(await hasher.verify(hashSecret('pw'), 'pw')).to.equal(false);
  });

  it('spends real work on unknown users', async () => {
    const slow = new Argon2PasswordHasher({ memoryCost: 8192, timeCost: 3 });
    await slow.verifyAgainstNothing('warm-up');
    const started = process.hrtime.bigint();
    await slow.verifyAgainstNothing('pw');
    const nothingMs = Number(process.hrtime.bigint() - started) / 1e6;
    const hash = await slow.hash('pw');
    const started2 = process.hrtime.bigint();
    await slow.verify(hash, 'nope');
    const realMs = Number(process.hrtime.bigint() - started2) / 1e6;
    // Same parameters, so the same order of cost (loose bound: shared CI cores are noisy).
    expect(nothingMs).to.be.greaterThan(realMs / 5);
  });
});

describe('auth/secrets: robot secrets', () => {
  it('generates 32-character secrets with upper, lower and digits, all different', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const secret = generateSecret();
      expect(secret).to.match(/^[A-Za-z0-9]{32}$/);
      expect(secret).to.match(/[A-Z]/).and.match(/[a-z]/).and.match(/[0-9]/);
      seen.add(secret);
    }
    expect(seen.size).to.equal(200);
    expect(() => generateSecret(8)).to.throw(RangeError);
  });

  it('stores only a salted hash and verifies it', () => {
    const secret = generateSecret();
    const stored = hashSecret(secret);
    expect(stored).to.match(/^sha256\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(stored).to.not.include(secret);
    expect(hashSecret(secret)).to.not.equal(stored);
    expect(verifySecret(stored, secret)).to.equal(true);
    expect(verifySecret(stored, secret.slice(0, -1))).to.equal(false);
    expect(verifySecret(stored, `${secret}x`)).to.equal(false);
    expect(verifySecret('sha256$bad', secret)).to.equal(false);
    expect(verifySecret(`md5$${stored.split('$')[1]}$${stored.split('$')[2]}`, secret)).to.equal(false);
    expect(verifySecret('sha256$AAAA$AAAA', secret)).to.equal(false);
  });
});
