/**
 * The first system administrator: from configuration (auth.admin), or generated and handed
 * back once so the caller prints it at first start. Only ever creates; an existing account
 * is left alone (its password may have been changed since), as Harbor does.
 */
import type { UserRecord } from './identity.ts';
import { generateSecret, type PasswordHasher } from './secrets.ts';

export interface InitialAdminStore {
  findUser(name: string): Promise<UserRecord | undefined>;
  /** Create the user; undefined when the name was taken meanwhile (another replica won). */
  createUser(input: { name: string; passwordHash: string; sysadmin: true }): Promise<UserRecord | undefined>;
}

export type InitialAdminOutcome =
  | { created: false }
  /** `generatedPassword` is set only when no password was configured: print it once, never log it. */
  | { created: true; user: UserRecord; generatedPassword?: string };

export async function ensureInitialAdmin(
  store: InitialAdminStore,
  admin: { username: string; password?: string | undefined },
  passwords: PasswordHasher,
): Promise<InitialAdminOutcome> {
  if ((await store.findUser(admin.username)) !== undefined) return { created: false };
  const generated = admin.password === undefined ? generateSecret() : undefined;
  const password = admin.password ?? (generated as string);
  const user = await store.createUser({ name: admin.username, passwordHash: await passwords.hash(password), sysadmin: true });
  if (user === undefined) return { created: false };
  return generated === undefined ? { created: true, user } : { created: true, user, generatedPassword: generated };
}
