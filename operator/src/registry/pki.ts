/**
 * Key material the operator generates for a Registry: a CA, a serving certificate signed by
 * it, the token signing key and the admin password. X.509 comes from @peculiar/x509 over
 * Node's WebCrypto; keys are ECDSA P-256 (every client Berth supports accepts them).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, webcrypto, X509Certificate as NodeX509 } from 'node:crypto';
import { isIP } from 'node:net';
// @peculiar/x509 resolves its services through tsyringe, which needs the Reflect polyfill first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { calculateJwkThumbprint, exportJWK } from 'jose';

const crypto = webcrypto as unknown as Crypto;
const ecdsa = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const DAY = 24 * 3600 * 1000;

export interface CertificateAndKey {
  certPem: string;
  keyPem: string;
}

function serial(): string {
  // Positive 128-bit serial (leading byte < 0x80).
  const bytes = randomBytes(16);
  bytes[0]! &= 0x7f;
  return bytes.toString('hex');
}

async function exportKeyPem(key: CryptoKey): Promise<string> {
  const der = await crypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

async function importKeyPem(pem: string): Promise<CryptoKey> {
  const der = createPrivateKey(pem).export({ format: 'der', type: 'pkcs8' });
  return crypto.subtle.importKey('pkcs8', der, ecdsa, true, ['sign']);
}

export async function generateCA(commonName: string, now = new Date()): Promise<CertificateAndKey> {
  const keys = (await crypto.subtle.generateKey(ecdsa, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serial(),
      name: `CN=${commonName},O=Berth`,
      notBefore: new Date(now.getTime() - 3600 * 1000),
      notAfter: new Date(now.getTime() + 3650 * DAY),
      keys,
      signingAlgorithm: ecdsa,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return { certPem: cert.toString('pem'), keyPem: await exportKeyPem(keys.privateKey) };
}

/** A serving certificate for names (DNS names or IP addresses), valid for validDays. */
export async function issueServingCertificate(
  ca: CertificateAndKey,
  names: readonly string[],
  validDays = 365,
  now = new Date(),
): Promise<CertificateAndKey> {
  const caCert = new x509.X509Certificate(ca.certPem);
  const signingKey = await importKeyPem(ca.keyPem);
  const keys = (await crypto.subtle.generateKey(ecdsa, true, ['sign', 'verify'])) as CryptoKeyPair;
  const sans: x509.JsonGeneralName[] = names.map((n) => ({ type: isIP(n) ? 'ip' : 'dns', value: n }));
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serial(),
      subject: `CN=${names[0] ?? 'berth'}`,
      issuer: caCert.subject,
      notBefore: new Date(now.getTime() - 3600 * 1000),
      notAfter: new Date(now.getTime() + validDays * DAY),
      publicKey: keys.publicKey,
      signingKey,
      signingAlgorithm: ecdsa,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension(sans),
        await x509.AuthorityKeyIdentifierExtension.create(caCert, false, crypto),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return { certPem: cert.toString('pem'), keyPem: await exportKeyPem(keys.privateKey) };
}

/** What a serving certificate covers and until when (read with Node's own X.509 parser). */
export function describeCertificate(certPem: string): { names: string[]; notAfter: Date; issuer: string } {
  const cert = new NodeX509(certPem);
  const names = (cert.subjectAltName ?? '')
    .split(', ')
    .filter(Boolean)
    .map((entry) => entry.replace(/^(DNS|IP Address):/, ''));
  return { names, notAfter: new Date(cert.validTo), issuer: cert.issuer };
}

/** True when certPem was signed by the CA in caPem. */
export function isSignedBy(certPem: string, caPem: string): boolean {
  return new NodeX509(certPem).verify(new NodeX509(caPem).publicKey);
}

export interface SigningKey {
  /** PKCS#8 PEM private key (ES256). */
  keyPem: string;
  /** Key id: the RFC 7638 JWK thumbprint of the public key. */
  kid: string;
}

export async function generateSigningKey(): Promise<SigningKey> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keyPem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  return { keyPem, kid: await keyId(keyPem) };
}

export async function publicJwk(keyPem: string): Promise<Record<string, unknown>> {
  const jwk = await exportJWK(createPublicKey(keyPem));
  return { ...jwk, kid: await keyId(keyPem), alg: 'ES256', use: 'sig' };
}

async function keyId(keyPem: string): Promise<string> {
  return calculateJwkThumbprint(await exportJWK(createPublicKey(keyPem)), 'sha256');
}

/** 32 random characters, always with an upper-case letter, a lower-case letter and a digit (the registry's password rule). */
export function generatePassword(): string {
  for (;;) {
    const candidate = randomBytes(24).toString('base64url');
    if (/[A-Z]/.test(candidate) && /[a-z]/.test(candidate) && /[0-9]/.test(candidate)) return candidate;
  }
}
