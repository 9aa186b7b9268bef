import { expect } from 'chai';
import { PasswordAuthenticator, type LoginEvent } from '../../src/auth/authenticator.ts';
import { AuthError } from '../../src/auth/errors.ts';
import { LoginRateLimiter } from '../../src/auth/login-rate-limit.ts';
import { Argon2PasswordHasher, type PasswordHasher } from '../../src/auth/secrets.ts';
import { FakeCache, FakeDirectory, TestClock } from './fakes.ts';

/** The real argon2 hasher, counting how often it verifies. */
class CountingHasher implements PasswordHasher {
  verifications = 0;
  private readonly inner = new Argon2PasswordHasher({ memoryCost: 1024, timeCost: 1 });
  hash(password: string): Promise<string> {
    return this.inner.hash(password);
  }
  verify(storedHash: string, password: string): Promise<boolean> {
    this.verifications++;
    return this.inner.verify(storedHash, password);
  }
  verifyAgainstNothing(password: string): Promise<void> {
    this.verifications++;
    return this.inner.verifyAgainstNothing(password);
  }
}

describe('auth/authenticator: PasswordAuthenticator', () => {
  let clock: TestClock;
  let directory: FakeDirectory;
  let hasher: CountingHasher;
  let events: LoginEvent[];

  beforeEach(async () => {
    clock = new TestClock();
    directory = new FakeDirectory();
    hasher = new CountingHasher();
    events = [];
    directory.users.set('alice', { id: 'u1', name: 'alice', passwordHash: await hasher.hash('alice-Pa55'), sysadmin: false });
  });

  const authenticator = (rememberVerifiedSeconds: number): PasswordAuthenticator =>
    new PasswordAuthenticator({
      identities: directory,
      passwords: hasher,
      rateLimiter: new LoginRateLimiter(new FakeCache(clock), { now: clock.now }),
      onLogin: (e) => events.push(e),
      rememberVerifiedSeconds,
      now: clock.now,
    });

  async function refused(promise: Promise<unknown>): Promise<AuthError> {
    try {
      await promise;
    } catch (err) {
      if (err instanceof AuthError) return err;
      throw err;
    }
    throw new Error('expected a refusal');
  }

  it('remembers a verified password for a while, so Basic auth per request skips argon2', async () => {
    const auth = authenticator(60);
    expect((await auth.authenticate('alice', 'alice-Pa55', '192.0.2.1', 'basic')).name).to.equal('alice');
    expect(hasher.verifications).to.equal(1);
    await auth.authenticate('alice', 'alice-Pa55', '192.0.2.1', 'basic');
    await auth.authenticate('alice', 'alice-Pa55', '192.0.2.1', 'basic');
    expect(hasher.verifications).to.equal(1);
    // A wrong password is never remembered as right.
    expect((await refused(auth.authenticate('alice', 'alice-Pa56', '192.0.2.1', 'basic'))).code).to.equal('UNAUTHORIZED');
    expect(hasher.verifications).to.equal(2);
    expect(events.map((e) => `${e.channel}:${e.outcome}`)).to.deep.equal(['basic:success', 'basic:success', 'basic:success', 'basic:failure']);
  });

  it('forgets when the time is up or the password changes', async () => {
    const auth = authenticator(60);
    await auth.authenticate('alice', 'alice-Pa55', undefined);
    clock.advance(61);
    await auth.authenticate('alice', 'alice-Pa55', undefined);
    expect(hasher.verifications).to.equal(2);
    const user = directory.users.get('alice');
    if (!user) throw new Error('fixture missing');
    user.passwordHash = await hasher.hash('new-Pa55word');
    expect((await refused(auth.authenticate('alice', 'alice-Pa55', undefined))).code).to.equal('UNAUTHORIZED');
    expect((await auth.authenticate('alice', 'new-Pa55word', undefined)).name).to.equal('alice');
  });

  it('re-reads the account every time (a demoted admin is demoted at once)', async () => {
    const auth = authenticator(60);
    const user = directory.users.get('alice');
    if (!user) throw new Error('fixture missing');
    user.sysadmin = true;
    expect(await auth.authenticate('alice', 'alice-Pa55', undefined)).to.include({ kind: 'user', sysadmin: true });
    user.sysadmin = false;
    expect(await auth.authenticate('alice', 'alice-Pa55', undefined)).to.include({ sysadmin: false });
    directory.users.delete('alice');
    expect((await refused(auth.authenticate('alice', 'alice-Pa55', undefined))).code).to.equal('UNAUTHORIZED');
  });

  it('verifies every time when remembering is off', async () => {
    const auth = authenticator(0);
    await auth.authenticate('alice', 'alice-Pa55', undefined);
    await auth.authenticate('alice', 'alice-Pa55', undefined);
    expect(hasher.verifications).to.equal(2);
  });

  it('spends a verification on unknown users too', async () => {
    const auth = authenticator(60);
    await refused(auth.authenticate('nobody', 'whatever', undefined));
    expect(hasher.verifications).to.equal(1);
  });
});
