/**
 * The `auth:` section of the registry configuration, and building the auth parts from it.
 * The config module owns BerthConfigSchema; it adds this section as one entry
 * (`auth: AuthSchema`), and calls `authConfigProblems` among its cross-field rules.
 *
 * In a cluster the operator mounts the token keys at /etc/berth/auth/token/ (signing.key,
 * verification.jwks) and passes the initial admin password as BERTH_AUTH_ADMIN_PASSWORD.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { CacheStore } from '../cache/cache.ts';
import { SECRET_KEYWORD } from '../config/secret.ts';
import { RegistryAccessController } from './access-controller.ts';
import { PasswordAuthenticator, type LoginEvent } from './authenticator.ts';
import type { IdentityStore, ProjectDirectory } from './identity.ts';
import {
  generateSigningKey,
  loadSigningKeyFile,
  loadVerificationKeyFiles,
  verificationKeyOf,
  type SigningKey,
  type VerificationKey,
} from './keys.ts';
import { LoginRateLimiter } from './login-rate-limit.ts';
import { Argon2PasswordHasher } from './secrets.ts';
import { TokenService } from './token-service.ts';
import { TokenIssuer, TokenVerifier } from './tokens.ts';

const strict = { additionalProperties: false } as const;
const section = { additionalProperties: false, default: {} } as const;

export const AuthSchema = Type.Object(
  {
    enabled: Type.Boolean({ default: false, description: 'Require token or Basic auth on /v2 (anonymous pull stays open on public projects).' }),
    service: Type.String({ minLength: 1, default: 'berth-registry', description: 'Service name: the token audience and the challenge service.' }),
    issuer: Type.String({ minLength: 1, default: 'berth-token-issuer', description: 'Token issuer (iss).' }),
    signingKeyFile: Type.Optional(
      Type.String({ minLength: 1, description: 'PEM or JWK private key (EC P-256 or RSA >= 2048) that signs tokens. Unset: a key generated at each start (one replica only).' }),
    ),
    verificationKeyFiles: Type.Array(Type.String({ minLength: 1 }), {
      default: [],
      description: 'Extra PEM/JWK/JWKS files of keys whose tokens are accepted (key rotation). The signing key is always accepted.',
    }),
    accessTokenTtlSeconds: Type.Integer({ minimum: 60, maximum: 86400, default: 300, description: 'Lifetime of access tokens.' }),
    refreshTokenTtlSeconds: Type.Integer({ minimum: 300, default: 2592000, description: 'Lifetime of refresh tokens.' }),
    projectCreation: Type.Union([Type.Literal('everyone'), Type.Literal('adminonly')], {
      default: 'everyone',
      description: 'Who may create projects.',
    }),
    admin: Type.Object(
      {
        username: Type.String({ minLength: 1, default: 'admin', description: 'Initial system administrator.' }),
        password: Type.Optional(
          Type.String({ minLength: 8, description: 'Initial admin password; unset: generated and printed once at first start.', [SECRET_KEYWORD]: 'value' }),
        ),
      },
      section,
    ),
    loginRateLimit: Type.Object(
      {
        maxFailuresPerUser: Type.Integer({ minimum: 1, default: 10, description: 'Failed logins per user name per window.' }),
        maxFailuresPerAddress: Type.Integer({ minimum: 1, default: 100, description: 'Failed logins per client address per window.' }),
        windowSeconds: Type.Integer({ minimum: 1, default: 300, description: 'Length of a rate-limit window.' }),
      },
      section,
    ),
    passwordHash: Type.Object(
      {
        memoryKiB: Type.Integer({ minimum: 1024, default: 19456, description: 'argon2id memory cost (KiB).' }),
        passes: Type.Integer({ minimum: 1, default: 2, description: 'argon2id time cost.' }),
        rememberVerifiedSeconds: Type.Integer({
          minimum: 0,
          maximum: 3600,
          default: 60,
          description: 'Skip re-hashing a user password verified this recently (Basic auth on every request); 0 disables.',
        }),
      },
      section,
    ),
  },
  { ...strict, default: {} },
);

export type AuthConfig = Static<typeof AuthSchema>;

/** Rules across sections: the challenge realm must be an absolute URL clients can reach. */
export function authConfigProblems(auth: AuthConfig, externalURL: string | undefined): Array<{ path: string; message: string }> {
  if (auth.enabled && externalURL === undefined) {
    return [{ path: 'http.externalURL', message: 'required when auth.enabled (the token realm is <externalURL>/service/token)' }];
  }
  return [];
}

export const TOKEN_PATH = '/service/token';

export interface AuthParts {
  issuer: TokenIssuer;
  verifier: TokenVerifier;
  authenticator: PasswordAuthenticator;
  passwords: Argon2PasswordHasher;
  tokens: TokenService;
  access: RegistryAccessController;
  /** True when no signing key was configured and one was generated for this process. */
  ephemeralSigningKey: boolean;
  signingKeyId: string;
}

export interface AuthDependencies {
  cache: CacheStore;
  identities: IdentityStore;
  projects: ProjectDirectory;
  /** http.externalURL, without a trailing slash. */
  externalURL: string;
  onLogin?: (event: LoginEvent) => void;
  now?: () => Date;
}

/** Build the auth parts from configuration (called from the composition root). */
export async function createAuth(config: AuthConfig, deps: AuthDependencies): Promise<AuthParts> {
  const signing: SigningKey = config.signingKeyFile ? await loadSigningKeyFile(config.signingKeyFile) : await generateSigningKey('ES256');
  const extra = await loadVerificationKeyFiles(config.verificationKeyFiles);
  const keys = uniqueByKid([verificationKeyOf(signing), ...extra]);
  const now = deps.now ?? (() => new Date());
  const issuer = new TokenIssuer({
    issuer: config.issuer,
    signingKey: signing,
    accessTtlSeconds: config.accessTokenTtlSeconds,
    refreshTtlSeconds: config.refreshTokenTtlSeconds,
    now,
  });
  const verifier = new TokenVerifier({ issuer: config.issuer, audience: config.service, keys, now });
  const passwords = new Argon2PasswordHasher({ memoryCost: config.passwordHash.memoryKiB, timeCost: config.passwordHash.passes });
  const authenticator = new PasswordAuthenticator({
    identities: deps.identities,
    passwords,
    rateLimiter: new LoginRateLimiter(deps.cache, { ...config.loginRateLimit, now }),
    rememberVerifiedSeconds: config.passwordHash.rememberVerifiedSeconds,
    now,
    ...(deps.onLogin ? { onLogin: deps.onLogin } : {}),
  });
  const tokens = new TokenService({ service: config.service, issuer, verifier, authenticator, identities: deps.identities, projects: deps.projects, now });
  const access = new RegistryAccessController({
    realm: `${deps.externalURL.replace(/\/+$/, '')}${TOKEN_PATH}`,
    service: config.service,
    verifier,
    authenticator,
    projects: deps.projects,
    now,
  });
  return { issuer, verifier, authenticator, passwords, tokens, access, ephemeralSigningKey: !config.signingKeyFile, signingKeyId: signing.kid };
}

/**
 * The same key may be both the signing key and in the verification set (the operator's
 * verification.jwks includes it): keep one entry per kid. Two different keys under one kid
 * are a configuration error.
 */
function uniqueByKid(keys: VerificationKey[]): VerificationKey[] {
  const byKid = new Map<string, VerificationKey>();
  for (const key of keys) {
    const seen = byKid.get(key.kid);
    if (seen === undefined) byKid.set(key.kid, key);
    else if (!seen.publicKey.equals(key.publicKey)) throw new Error(`two different token keys share kid ${key.kid}`);
  }
  return [...byKid.values()];
}
