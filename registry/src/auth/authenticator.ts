/**
 * User name + password (or robot name + secret) → principal. The one login path shared by
 * the token endpoint and Basic auth on /v2 and /api, so rate limiting, timing and the login
 * audit events are the same everywhere.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { AuthError } from './errors.ts';
import {
  ROBOT_NAME_PREFIX,
  robotIsActive,
  robotPrincipal,
  userPrincipal,
  type IdentityStore,
  type RobotPrincipal,
  type UserPrincipal,
} from './identity.ts';
import type { LoginRateLimiter } from './login-rate-limit.ts';
import { verifySecret, type PasswordHasher } from './secrets.ts';

export interface LoginEvent {
  username: string;
  clientAddress: string | undefined;
  /** Where the credentials came: the token endpoint, Basic auth on a request, or the portal's session login. */
  channel: 'token' | 'basic' | 'session';
  outcome: 'success' | 'failure' | 'rate-limited';
  /** Why a login failed, for the audit log; never the password. */
  reason?: 'bad-credentials' | 'robot-inactive';
}

export interface PasswordAuthenticatorOptions {
  identities: IdentityStore;
  passwords: PasswordHasher;
  rateLimiter: LoginRateLimiter;
  /** Audit hook; called once per attempt. */
  onLogin?: (event: LoginEvent) => void;
  /**
   * Remember a verified user password this long (0: never), so Basic auth on every /v2
   * request does not cost an argon2 run each time. Entries are keyed by an HMAC under a
   * per-process random key, never the password, and die when the stored hash changes.
   */
  rememberVerifiedSeconds?: number;
  now?: () => Date;
}

const REMEMBERED_MAX = 10_000;

export class PasswordAuthenticator {
  private readonly identities: IdentityStore;
  private readonly passwords: PasswordHasher;
  private readonly rateLimiter: LoginRateLimiter;
  private readonly onLogin: (event: LoginEvent) => void;
  private readonly now: () => Date;
  private readonly rememberMs: number;
  private readonly rememberKey = randomBytes(32);
  /** HMAC(username, password) -> the password hash it was verified against, and until when. */
  private readonly remembered = new Map<string, { passwordHash: string; until: number }>();

  constructor(options: PasswordAuthenticatorOptions) {
    this.identities = options.identities;
    this.passwords = options.passwords;
    this.rateLimiter = options.rateLimiter;
    this.onLogin = options.onLogin ?? (() => {});
    this.now = options.now ?? (() => new Date());
    this.rememberMs = (options.rememberVerifiedSeconds ?? 0) * 1000;
  }

  /** Throws UNAUTHORIZED for wrong credentials or an inactive robot, TOOMANYREQUESTS when locked out. */
  async authenticate(
    username: string,
    password: string,
    clientAddress: string | undefined,
    channel: LoginEvent['channel'] = 'token',
  ): Promise<UserPrincipal | RobotPrincipal> {
    try {
      await this.rateLimiter.check(username, clientAddress);
    } catch (err) {
      if (err instanceof AuthError && err.code === 'TOOMANYREQUESTS') {
        this.onLogin({ username, clientAddress, channel, outcome: 'rate-limited' });
      }
      throw err;
    }
    const principal = username.startsWith(ROBOT_NAME_PREFIX)
      ? await this.checkRobot(username, password)
      : await this.checkUser(username, password);
    if (principal === undefined) {
      await this.rateLimiter.recordFailure(username, clientAddress);
      this.onLogin({ username, clientAddress, channel, outcome: 'failure', reason: 'bad-credentials' });
      throw new AuthError('UNAUTHORIZED', 'invalid username or password');
    }
    if (principal.kind === 'robot' && !robotIsActive(principal, this.now())) {
      // The secret was right, so saying why is no help to a guesser.
      this.onLogin({ username, clientAddress, channel, outcome: 'failure', reason: 'robot-inactive' });
      throw new AuthError('UNAUTHORIZED', 'robot account is disabled or expired');
    }
    await this.rateLimiter.recordSuccess(username);
    this.onLogin({ username, clientAddress, channel, outcome: 'success' });
    return principal;
  }

  private async checkUser(username: string, password: string): Promise<UserPrincipal | undefined> {
    const user = await this.identities.findUser(username);
    if (user === undefined) {
      await this.passwords.verifyAgainstNothing(password);
      return undefined;
    }
    if (this.rememberMs > 0) {
      const key = this.rememberedKey(username, password);
      const entry = this.remembered.get(key);
      const now = this.now().getTime();
      if (entry && entry.until > now && entry.passwordHash === user.passwordHash) return userPrincipal(user);
      if (!(await this.passwords.verify(user.passwordHash, password))) return undefined;
      if (this.remembered.size >= REMEMBERED_MAX) this.forgetExpired(now);
      if (this.remembered.size < REMEMBERED_MAX) this.remembered.set(key, { passwordHash: user.passwordHash, until: now + this.rememberMs });
      return userPrincipal(user);
    }
    return (await this.passwords.verify(user.passwordHash, password)) ? userPrincipal(user) : undefined;
  }

  private rememberedKey(username: string, password: string): string {
    return createHmac('sha256', this.rememberKey).update(username).update('\0').update(password).digest('base64url');
  }

  private forgetExpired(now: number): void {
    for (const [key, entry] of this.remembered) if (entry.until <= now) this.remembered.delete(key);
  }

  private async checkRobot(username: string, secret: string): Promise<RobotPrincipal | undefined> {
    const robot = await this.identities.findRobot(username);
    if (robot === undefined) return undefined;
    return verifySecret(robot.secretHash, secret) ? robotPrincipal(robot) : undefined;
  }
}
