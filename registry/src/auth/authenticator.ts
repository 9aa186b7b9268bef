/**
 * User name + password (or robot name + secret) → principal. The one login path shared by
 * the token endpoint and Basic auth on /v2 and /api, so rate limiting, timing and the login
 * audit events are the same everywhere.
 */
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
  now?: () => Date;
}

export class PasswordAuthenticator {
  private readonly identities: IdentityStore;
  private readonly passwords: PasswordHasher;
  private readonly rateLimiter: LoginRateLimiter;
  private readonly onLogin: (event: LoginEvent) => void;
  private readonly now: () => Date;

  constructor(options: PasswordAuthenticatorOptions) {
    this.identities = options.identities;
    this.passwords = options.passwords;
    this.rateLimiter = options.rateLimiter;
    this.onLogin = options.onLogin ?? (() => {});
    this.now = options.now ?? (() => new Date());
  }

  /** Throws UNAUTHORIZED for wrong credentials or an inactive robot, TOOMANYREQUESTS when locked out. */
  async authenticate(username: string, password: string, clientAddress: string | undefined): Promise<UserPrincipal | RobotPrincipal> {
    try {
      await this.rateLimiter.check(username, clientAddress);
    } catch (err) {
      if (err instanceof AuthError && err.code === 'TOOMANYREQUESTS') {
        this.onLogin({ username, clientAddress, outcome: 'rate-limited' });
      }
      throw err;
    }
    const principal = username.startsWith(ROBOT_NAME_PREFIX)
      ? await this.checkRobot(username, password)
      : await this.checkUser(username, password);
    if (principal === undefined) {
      await this.rateLimiter.recordFailure(username, clientAddress);
      this.onLogin({ username, clientAddress, outcome: 'failure', reason: 'bad-credentials' });
      throw new AuthError('UNAUTHORIZED', 'invalid username or password');
    }
    if (principal.kind === 'robot' && !robotIsActive(principal, this.now())) {
      // The secret was right, so saying why is no help to a guesser.
      this.onLogin({ username, clientAddress, outcome: 'failure', reason: 'robot-inactive' });
      throw new AuthError('UNAUTHORIZED', 'robot account is disabled or expired');
    }
    await this.rateLimiter.recordSuccess(username);
    this.onLogin({ username, clientAddress, outcome: 'success' });
    return principal;
  }

  private async checkUser(username: string, password: string): Promise<UserPrincipal | undefined> {
    const user = await this.identities.findUser(username);
    if (user === undefined) {
      await this.passwords.verifyAgainstNothing(password);
      return undefined;
    }
    return (await this.passwords.verify(user.passwordHash, password)) ? userPrincipal(user) : undefined;
  }

  private async checkRobot(username: string, secret: string): Promise<RobotPrincipal | undefined> {
    const robot = await this.identities.findRobot(username);
    if (robot === undefined) return undefined;
    return verifySecret(robot.secretHash, secret) ? robotPrincipal(robot) : undefined;
  }
}
