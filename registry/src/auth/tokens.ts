/**
 * Registry bearer tokens (the Docker token spec's JWT) and Berth's refresh tokens.
 *
 * Access token: header {alg: ES256|RS256, typ: JWT, kid}; claims iss, sub (user or robot
 * name; "" for anonymous), aud (= the registry service), exp, nbf, iat, jti and `access`
 * ([{type, name, actions}], already intersected with what the subject may do).
 *
 * Refresh token: signed by the same keys, but with header typ "berth-refresh+jwt", audience
 * `<issuer>#refresh` and no `access` claim, so neither kind is accepted as the other. It names
 * the principal (kind, id, name); the token endpoint re-checks the principal on every use and
 * recomputes access from current permissions, so it never carries rights of its own.
 */
import { randomBytes } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT, type JWTPayload, type ProtectedHeaderParameters } from 'jose';
import { AuthError } from './errors.ts';
import type { SigningKey, VerificationKey } from './keys.ts';
import { TOKEN_ALGORITHMS } from './keys.ts';
import type { Scope } from './scope.ts';

export const ACCESS_TOKEN_TYPE = 'JWT';
export const REFRESH_TOKEN_TYPE = 'berth-refresh+jwt';
export const DEFAULT_ACCESS_TTL_SECONDS = 300;
export const DEFAULT_REFRESH_TTL_SECONDS = 30 * 24 * 3600;

export interface AccessClaim {
  type: string;
  class?: string;
  name: string;
  actions: string[];
}

export interface AccessTokenClaims {
  iss: string;
  sub: string;
  aud: string;
  exp: number;
  nbf: number;
  iat: number;
  jti: string;
  access: AccessClaim[];
}

export interface RefreshTokenClaims {
  iss: string;
  sub: string;
  exp: number;
  iat: number;
  jti: string;
  /** Which table the subject lives in. */
  principal: 'user' | 'robot';
  /** The subject's id: a user deleted and re-created under the same name gets a new id. */
  uid: string;
}

export interface IssuedToken {
  token: string;
  /** Seconds of validity from issuedAt. */
  expiresIn: number;
  issuedAt: Date;
}

export interface TokenIssuerOptions {
  /** `iss` of every token; configuration, e.g. "berth-token-issuer". */
  issuer: string;
  signingKey: SigningKey;
  accessTtlSeconds?: number;
  refreshTtlSeconds?: number;
  now?: () => Date;
}

export class TokenIssuer {
  readonly issuer: string;
  readonly accessTtlSeconds: number;
  readonly refreshTtlSeconds: number;
  private signingKey: SigningKey;
  private readonly now: () => Date;

  constructor(options: TokenIssuerOptions) {
    this.issuer = options.issuer;
    this.signingKey = options.signingKey;
    this.accessTtlSeconds = options.accessTtlSeconds ?? DEFAULT_ACCESS_TTL_SECONDS;
    this.refreshTtlSeconds = options.refreshTtlSeconds ?? DEFAULT_REFRESH_TTL_SECONDS;
    this.now = options.now ?? (() => new Date());
    // Docker clients refuse tokens that live less than a minute (they treat expires_in < 60 as 60).
    if (this.accessTtlSeconds < 60) throw new RangeError('access token lifetime must be at least 60 seconds');
  }

  /** Start signing with a new key; verifiers must already trust it (see docs/auth.md). */
  rotate(signingKey: SigningKey): void {
    this.signingKey = signingKey;
  }

  get keyId(): string {
    return this.signingKey.kid;
  }

  async issueAccessToken(input: { subject: string; audience: string; access: readonly Scope[] }): Promise<IssuedToken> {
    const issuedAt = wholeSeconds(this.now());
    const iat = issuedAt.getTime() / 1000;
    const access: AccessClaim[] = input.access.map((scope) => {
      const claim: AccessClaim = { type: scope.type, name: scope.name, actions: [...scope.actions] };
      if (scope.class !== undefined) claim.class = scope.class;
      return claim;
    });
    const token = await new SignJWT({ access })
      .setProtectedHeader({ alg: this.signingKey.alg, typ: ACCESS_TOKEN_TYPE, kid: this.signingKey.kid })
      .setIssuer(this.issuer)
      .setSubject(input.subject)
      .setAudience(input.audience)
      .setIssuedAt(iat)
      .setNotBefore(iat)
      .setExpirationTime(iat + this.accessTtlSeconds)
      .setJti(newJti())
      .sign(this.signingKey.privateKey);
    return { token, expiresIn: this.accessTtlSeconds, issuedAt };
  }

  async issueRefreshToken(input: { subject: string; principal: 'user' | 'robot'; uid: string }): Promise<IssuedToken> {
    const issuedAt = wholeSeconds(this.now());
    const iat = issuedAt.getTime() / 1000;
    const token = await new SignJWT({ principal: input.principal, uid: input.uid })
      .setProtectedHeader({ alg: this.signingKey.alg, typ: REFRESH_TOKEN_TYPE, kid: this.signingKey.kid })
      .setIssuer(this.issuer)
      .setSubject(input.subject)
      .setAudience(refreshAudience(this.issuer))
      .setIssuedAt(iat)
      .setNotBefore(iat)
      .setExpirationTime(iat + this.refreshTtlSeconds)
      .setJti(newJti())
      .sign(this.signingKey.privateKey);
    return { token, expiresIn: this.refreshTtlSeconds, issuedAt };
  }
}

export interface TokenVerifierOptions {
  issuer: string;
  /** The registry service name: the required `aud` of access tokens. */
  audience: string;
  /** Every key currently trusted; several at once during a rotation. */
  keys: readonly VerificationKey[];
  clockToleranceSeconds?: number;
  now?: () => Date;
}

export class TokenVerifier {
  private readonly issuer: string;
  private readonly audience: string;
  private readonly clockTolerance: number;
  private readonly now: () => Date;
  private keysById = new Map<string, VerificationKey>();

  constructor(options: TokenVerifierOptions) {
    this.issuer = options.issuer;
    this.audience = options.audience;
    this.clockTolerance = options.clockToleranceSeconds ?? 10;
    this.now = options.now ?? (() => new Date());
    this.replaceKeys(options.keys);
  }

  /** Swap the trusted key set (key rotation without a restart). */
  replaceKeys(keys: readonly VerificationKey[]): void {
    const byId = new Map<string, VerificationKey>();
    for (const key of keys) {
      if (byId.has(key.kid)) throw new Error(`two verification keys share kid ${key.kid}`);
      byId.set(key.kid, key);
    }
    this.keysById = byId;
  }

  get keyIds(): string[] {
    return [...this.keysById.keys()];
  }

  /** Verify an access token; throws UNAUTHORIZED (never echoing the token) when it is not valid. */
  async verifyAccessToken(token: string): Promise<AccessTokenClaims> {
    const payload = await this.verify(token, ACCESS_TOKEN_TYPE, this.audience);
    const access = parseAccessClaim(payload['access']);
    if (typeof payload.sub !== 'string' || typeof payload.jti !== 'string' || typeof payload.nbf !== 'number' || typeof payload.iat !== 'number') {
      throw new AuthError('UNAUTHORIZED', 'invalid token: missing claims');
    }
    return {
      iss: payload.iss as string,
      sub: payload.sub,
      aud: this.audience,
      exp: payload.exp as number,
      nbf: payload.nbf,
      iat: payload.iat,
      jti: payload.jti,
      access,
    };
  }

  async verifyRefreshToken(token: string): Promise<RefreshTokenClaims> {
    const payload = await this.verify(token, REFRESH_TOKEN_TYPE, refreshAudience(this.issuer));
    const principal = payload['principal'];
    const uid = payload['uid'];
    if (
      typeof payload.sub !== 'string' ||
      typeof payload.jti !== 'string' ||
      typeof payload.iat !== 'number' ||
      (principal !== 'user' && principal !== 'robot') ||
      typeof uid !== 'string'
    ) {
      throw new AuthError('UNAUTHORIZED', 'invalid refresh token: missing claims');
    }
    return { iss: payload.iss as string, sub: payload.sub, exp: payload.exp as number, iat: payload.iat, jti: payload.jti, principal, uid };
  }

  private async verify(token: string, typ: string, audience: string): Promise<JWTPayload> {
    const what = typ === ACCESS_TOKEN_TYPE ? 'token' : 'refresh token';
    try {
      const { payload } = await jwtVerify(token, (header: ProtectedHeaderParameters) => this.keyFor(header), {
        algorithms: [...TOKEN_ALGORITHMS],
        issuer: this.issuer,
        audience,
        typ,
        clockTolerance: this.clockTolerance,
        currentDate: this.now(),
        requiredClaims: ['exp', 'iat', 'jti', 'sub'],
      });
      return payload;
    } catch (err) {
      if (err instanceof AuthError) throw err;
      throw new AuthError('UNAUTHORIZED', `invalid ${what}: ${describeJoseError(err)}`, { cause: err });
    }
  }

  private keyFor(header: ProtectedHeaderParameters): VerificationKey['publicKey'] {
    if (typeof header.kid !== 'string') throw new AuthError('UNAUTHORIZED', 'invalid token: no key id');
    const key = this.keysById.get(header.kid);
    if (!key) throw new AuthError('UNAUTHORIZED', 'invalid token: signed by an unknown key');
    // A key is used with the one algorithm it was made for (no RS/ES confusion).
    if (header.alg !== key.alg) throw new AuthError('UNAUTHORIZED', 'invalid token: algorithm does not match its key');
    return key.publicKey;
  }
}

/**
 * Does a token's `access` claim cover everything `wanted` needs? A `*` action on a
 * repository covers pull, push and delete.
 */
export function accessCovers(access: readonly AccessClaim[], wanted: readonly Scope[]): boolean {
  return wanted.every((scope) => {
    const held = new Set<string>();
    for (const claim of access) {
      if (claim.type === scope.type && claim.name === scope.name && (claim.class ?? undefined) === (scope.class ?? undefined)) {
        for (const action of claim.actions) held.add(action);
      }
    }
    return scope.actions.every((action) => held.has(action) || held.has('*'));
  });
}

function parseAccessClaim(value: unknown): AccessClaim[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new AuthError('UNAUTHORIZED', 'invalid token: malformed access claim');
  return value.map((entry: unknown) => {
    const e = entry as Partial<AccessClaim> | null;
    if (
      e === null ||
      typeof e !== 'object' ||
      typeof e.type !== 'string' ||
      typeof e.name !== 'string' ||
      !Array.isArray(e.actions) ||
      !e.actions.every((a) => typeof a === 'string') ||
      (e.class !== undefined && typeof e.class !== 'string')
    ) {
      throw new AuthError('UNAUTHORIZED', 'invalid token: malformed access claim');
    }
    const claim: AccessClaim = { type: e.type, name: e.name, actions: e.actions };
    if (e.class !== undefined) claim.class = e.class;
    return claim;
  });
}

function describeJoseError(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf') return 'not yet valid';
    if (err.claim === 'aud') return 'issued for another service';
    if (err.claim === 'iss') return 'unknown issuer';
    if (err.claim === 'typ') return 'wrong token type';
    return `claim ${err.claim} rejected`;
  }
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'algorithm not allowed';
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'bad signature';
  if (err instanceof joseErrors.JWSInvalid || err instanceof joseErrors.JWTInvalid) return 'malformed';
  return 'rejected';
}

function refreshAudience(issuer: string): string {
  return `${issuer}#refresh`;
}

function newJti(): string {
  return randomBytes(16).toString('base64url');
}

function wholeSeconds(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}
