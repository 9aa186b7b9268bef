import { expect } from 'chai';
import type { UserRecord } from '../../src/auth/identity.ts';
import { ensureInitialAdmin, type InitialAdminStore } from '../../src/auth/initial-admin.ts';
import { Argon2PasswordHasher } from '../../src/auth/secrets.ts';

class Users implements InitialAdminStore {
  readonly users = new Map<string, UserRecord>();
  async findUser(name: string): Promise<UserRecord | undefined> {
    return this.users.get(name);
  }
  async createUser(input: { name: string; passwordHash: string; sysadmin: true }): Promise<UserRecord | undefined> {
    if (this.users.has(input.name)) return undefined;
    const user: UserRecord = { id: `u${this.users.size + 1}`, ...input };
    this.users.set(input.name, user);
    return user;
  }
}

describe('auth/initial-admin', () => {
  const hasher = new Argon2PasswordHasher({ memoryCost: 1024, timeCost: 1 });

  it('creates the configured admin with a hashed password, once', async () => {
    const users = new Users();
    const first = await ensureInitialAdmin(users, { username: 'admin', password: 'Configured-Pa55' }, hasher);
    expect(first.created).to.equal(true);
    expect(first).to.not.have.property('generatedPassword');
    const stored = users.users.get('admin');
    expect(stored?.sysadmin).to.equal(true);
    expect(stored?.passwordHash).to.match(/^\$argon2id\$/);
    expect(await hasher.verify(stored?.passwordHash ?? '', 'Configured-Pa55')).to.equal(true);
    const again = await ensureInitialAdmin(users, { username: 'admin', password: 'Another-Pa55' }, hasher);
    expect(again).to.deep.equal({ created: false });
    expect(await hasher.verify(users.users.get('admin')?.passwordHash ?? '', 'Configured-Pa55')).to.equal(true);
  });

  it('generates a strong password when none is configured and returns it once', async () => {
    const users = new Users();
    const outcome = await ensureInitialAdmin(users, { username: 'root' }, hasher);
    if (!outcome.created) throw new Error('expected creation');
    expect(outcome.generatedPassword).to.match(/^[A-Za-z0-9]{32}$/);
    expect(await hasher.verify(outcome.user.passwordHash, outcome.generatedPassword ?? '')).to.equal(true);
    expect(await ensureInitialAdmin(users, { username: 'root' }, hasher)).to.deep.equal({ created: false });
  });

  it('reports no creation when another replica created the account meanwhile', async () => {
    const users = new Users();
    const racing: InitialAdminStore = {
      findUser: async () => undefined,
      createUser: async (input) => {
        await users.createUser(input);
        return undefined;
      },
    };
    expect(await ensureInitialAdmin(racing, { username: 'admin' }, hasher)).to.deep.equal({ created: false });
  });
});
