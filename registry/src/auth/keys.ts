/**
 * Token signing and verification keys: loaded from PEM or JWK files (configuration chooses
 * the paths), or generated. A key's `kid` is its JWK `kid` when the file names one, else the
 * RFC 7638 thumbprint of its public JWK, so every replica computes the same id.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { calculateJwkThumbprint, exportJWK, type JWK } from 'jose';

export type TokenAlgorithm = 'ES256' | 'RS256';
export const TOKEN_ALGORITHMS: readonly TokenAlgorithm[] = ['ES256', 'RS256'];

export interface SigningKey {
  kid: string;
  alg: TokenAlgorithm;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export interface VerificationKey {
  kid: string;
  alg: TokenAlgorithm;
  publicKey: KeyObject;
}

export class KeyLoadError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KeyLoadError';
  }
}

/** A fresh key pair (first start without a configured key, and tests). */
export async function generateSigningKey(alg: TokenAlgorithm = 'ES256', kid?: string): Promise<SigningKey> {
  const pair =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid: kid ?? (await thumbprint(pair.publicKey)), alg, privateKey: pair.privateKey, publicKey: pair.publicKey };
}

/** Parse a private key from PEM (PKCS#8, SEC1 or PKCS#1) or JWK text. */
export async function parseSigningKey(text: string, source = 'signing key'): Promise<SigningKey> {
  let privateKey: KeyObject;
  let kid: string | undefined;
  let declaredAlg: string | undefined;
  try {
    if (looksLikeJson(text)) {
      const jwk = JSON.parse(text) as JWK;
      if (jwk.d === undefined) throw new KeyLoadError(`${source}: the JWK has no private part ("d")`);
      privateKey = createPrivateKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
      kid = jwk.kid;
      declaredAlg = jwk.alg;
    } else {
      privateKey = createPrivateKey(text);
    }
  } catch (err) {
    if (err instanceof KeyLoadError) throw err;
    // Never echo key material: the message names the source only.
    throw new KeyLoadError(`${source}: not a PEM or JWK private key`, { cause: err });
  }
  const publicKey = createPublicKey(privateKey);
  const alg = algorithmOf(publicKey, source, declaredAlg);
  return { kid: kid ?? (await thumbprint(publicKey)), alg, privateKey, publicKey };
}

/**
 * Parse verification keys: PEM text with any number of public keys, certificates or
 * private keys (their public half is used), a JWK, or a JWK Set.
 */
export async function parseVerificationKeys(text: string, source = 'verification keys'): Promise<VerificationKey[]> {
  const keys: VerificationKey[] = [];
  if (looksLikeJson(text)) {
    let parsed: JWK | { keys: JWK[] };
    try {
      parsed = JSON.parse(text) as JWK | { keys: JWK[] };
    } catch (err) {
      throw new KeyLoadError(`${source}: invalid JSON`, { cause: err });
    }
    const jwks = 'keys' in parsed && Array.isArray(parsed.keys) ? parsed.keys : [parsed as JWK];
    for (const [index, jwk] of jwks.entries()) {
      let publicKey: KeyObject;
      try {
        // Strip a private part if present: verification only ever needs the public key.
        const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = jwk;
        publicKey = createPublicKey({ key: pub as import('node:crypto').JsonWebKey, format: 'jwk' });
      } catch (err) {
        throw new KeyLoadError(`${source}: key ${index} is not a usable JWK`, { cause: err });
      }
      keys.push({ kid: jwk.kid ?? (await thumbprint(publicKey)), alg: algorithmOf(publicKey, source, jwk.alg), publicKey });
    }
  } else {
    const blocks = text.match(/-----BEGIN ([A-Z0-9 ]+)-----[\s\S]+?-----END \1-----/g) ?? [];
    if (blocks.length === 0) throw new KeyLoadError(`${source}: no PEM blocks found`);
    for (const [index, block] of blocks.entries()) {
      let publicKey: KeyObject;
      try {
        if (block.startsWith('-----BEGIN CERTIFICATE-----')) publicKey = new X509Certificate(block).publicKey;
        else if (block.includes('PRIVATE KEY-----')) publicKey = createPublicKey(createPrivateKey(block));
        else publicKey = createPublicKey(block);
      } catch (err) {
        throw new KeyLoadError(`${source}: PEM block ${index} is not a key or certificate`, { cause: err });
      }
      keys.push({ kid: await thumbprint(publicKey), alg: algorithmOf(publicKey, source), publicKey });
    }
  }
  return keys;
}

export async function loadSigningKeyFile(path: string): Promise<SigningKey> {
  return parseSigningKey(await readKeyFile(path), path);
}

export async function loadVerificationKeyFiles(paths: readonly string[]): Promise<VerificationKey[]> {
  const keys: VerificationKey[] = [];
  for (const path of paths) keys.push(...(await parseVerificationKeys(await readKeyFile(path), path)));
  return keys;
}

export function verificationKeyOf(key: SigningKey): VerificationKey {
  return { kid: key.kid, alg: key.alg, publicKey: key.publicKey };
}

/** The public JWK Set of some keys (to publish, or to hand to another verifier). */
export async function toJwks(keys: readonly VerificationKey[]): Promise<{ keys: JWK[] }> {
  const out: JWK[] = [];
  for (const key of keys) out.push({ ...(await exportJWK(key.publicKey)), kid: key.kid, alg: key.alg, use: 'sig' });
  return { keys: out };
}

async function readKeyFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new KeyLoadError(`cannot read key file ${path}`, { cause: err });
  }
}

function algorithmOf(publicKey: KeyObject, source: string, declared?: string): TokenAlgorithm {
  let alg: TokenAlgorithm;
  if (publicKey.asymmetricKeyType === 'ec') {
    const curve = publicKey.asymmetricKeyDetails?.namedCurve;
    if (curve !== 'prime256v1') throw new KeyLoadError(`${source}: EC keys must use P-256 (ES256), found ${curve}`);
    alg = 'ES256';
  } else if (publicKey.asymmetricKeyType === 'rsa') {
    const bits = publicKey.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < 2048) throw new KeyLoadError(`${source}: RSA keys must have at least 2048 bits, found ${bits}`);
    alg = 'RS256';
  } else {
    throw new KeyLoadError(`${source}: unsupported key type ${publicKey.asymmetricKeyType}; use EC P-256 or RSA`);
  }
  if (declared !== undefined && declared !== alg) {
    throw new KeyLoadError(`${source}: the key declares alg ${declared} but is a ${alg} key`);
  }
  return alg;
}

async function thumbprint(publicKey: KeyObject): Promise<string> {
  return calculateJwkThumbprint(await exportJWK(publicKey), 'sha256');
}

function looksLikeJson(text: string): boolean {
  return text.trimStart().startsWith('{');
}
