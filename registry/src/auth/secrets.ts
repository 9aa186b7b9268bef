/**
 * Password and secret hashing.
 *
 * Passwords are chosen by people, so they get an adaptive hash: argon2id (OWASP parameters
 * by default). Robot secrets are generated here with 190 bits of entropy, where brute force
 * is hopeless anyway, so they get a salted SHA-256: a robot authenticating with Basic on
 * every /v2 request must not cost tens of milliseconds of CPU each time. Both are compared
 * in constant time; neither the password nor the secret is ever stored.
 */
import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import { hash as argon2Hash, verify as argon2Verify } from '@node-rs/argon2';

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(storedHash: string, password: string): Promise<boolean>;
  /**
   * Spend the same time as a real verification, for a user that does not exist, so the
   * response time does not reveal which user names exist.
   */
  verifyAgainstNothing(password: string): Promise<void>;
}

export interface Argon2Options {
  /** KiB; OWASP minimum for argon2id is 19456 (19 MiB) with 2 passes. */
  memoryCost?: number;
  timeCost?: number;
  parallelism?: number;
}

export class Argon2PasswordHasher implements PasswordHasher {
  private readonly options: Required<Argon2Options>;
  private dummyHash: Promise<string> | undefined;

  constructor(options: Argon2Options = {}) {
    this.options = {
      memoryCost: options.memoryCost ?? 19456,
      timeCost: options.timeCost ?? 2,
      parallelism: options.parallelism ?? 1,
    };
  }

  hash(password: string): Promise<string> {
    // The library's default algorithm is argon2id (its const enum is not importable under
    // verbatimModuleSyntax); the tests pin the `$argon2id$` prefix.
    return argon2Hash(password, this.options);
  }

  async verify(storedHash: string, password: string): Promise<boolean> {
    if (!storedHash.startsWith('$argon2')) return false;
    try {
      // The library recomputes the hash with the stored parameters and compares in constant time.
      return await argon2Verify(storedHash, password);
    } catch {
      return false;
    }
  }

  async verifyAgainstNothing(password: string): Promise<void> {
    this.dummyHash ??= this.hash(randomBytes(16).toString('hex'));
    await this.verify(await this.dummyHash, password);
  }
}

const SECRET_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const SECRET_HASH_SCHEME = 'sha256';

/**
 * A new robot secret: 32 characters of [A-Za-z0-9] (about 190 bits), with at least one
 * upper-case letter, one lower-case letter and one digit, as Harbor's secret rules require.
 */
export function generateSecret(length = 32): string {
  if (length < 22) throw new RangeError('secrets shorter than 22 characters are too weak');
  for (;;) {
    let secret = '';
    for (let i = 0; i < length; i++) secret += SECRET_ALPHABET[randomInt(SECRET_ALPHABET.length)];
    if (/[A-Z]/.test(secret) && /[a-z]/.test(secret) && /[0-9]/.test(secret)) return secret;
  }
}

/** Salted SHA-256 of a generated secret: `sha256$<salt b64url>$<digest b64url>`. */
export function hashSecret(secret: string): string {
  const salt = randomBytes(16);
  return `${SECRET_HASH_SCHEME}$${salt.toString('base64url')}$${digestSecret(salt, secret).toString('base64url')}`;
}

export function verifySecret(storedHash: string, secret: string): boolean {
  const parts = storedHash.split('$');
  if (parts.length !== 3 || parts[0] !== SECRET_HASH_SCHEME) return false;
  const salt = Buffer.from(parts[1] as string, 'base64url');
  const expected = Buffer.from(parts[2] as string, 'base64url');
  const actual = digestSecret(salt, secret);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

function digestSecret(salt: Buffer, secret: string): Buffer {
  return createHash('sha256').update(salt).update(secret, 'utf8').digest();
}
