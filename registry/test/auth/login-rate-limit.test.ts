import { loginRateLimitSuite } from './login-rate-limit-suite.ts';
import { FakeCache } from './fakes.ts';

describe('auth/login-rate-limit on an in-process fake cache', () => {
  loginRateLimitSuite((clock) => new FakeCache(clock), false);
});
