/**
 * Generated secrets of a Registry: CA, serving certificate, token signing keys, admin
 * credentials. Given what exists, decides what the Secrets must contain. Existing material is
 * always kept; new material is generated only when missing, when the serving certificate no
 * longer fits (names, CA, expiry), or when spec.rotation asks for it.
 *
 * Token key rotation is two-phase so no replica ever sees a token it cannot verify:
 *   1. the new key is published as a verification key only (signing stays on the old key);
 *   2. once every replica runs with it (the Deployment rollout is complete), it becomes the
 *      signing key; the old public key stays valid for verification until the next rotation.
 */
import type { V1Secret } from '@kubernetes/client-node';
import type { Registry } from '../crds/registry.ts';
import {
  describeCertificate,
  generateCA,
  generatePassword,
  generateSigningKey,
  issueServingCertificate,
  isSignedBy,
  publicJwk,
} from './pki.ts';
import { childNames, ownerReference, registryLabels, servingNames } from './names.ts';

export const ROTATION_ANNOTATION = 'berth.dev/rotation';
export const PENDING_ROTATION_ANNOTATION = 'berth.dev/rotation-pending';
const RENEW_BEFORE_MS = 30 * 24 * 3600 * 1000;

export interface ExistingMaterial {
  ca?: V1Secret;
  tls?: V1Secret;
  token?: V1Secret;
  admin?: V1Secret;
  /** The Secret named by spec.tls.secretName, when given. */
  userTls?: V1Secret;
}

export interface Material {
  /** Secrets to apply (generated ones only). */
  secrets: V1Secret[];
  /** The CA bundle clients must trust (may be empty until cert-manager issues). */
  caBundle: string;
  /** The Secret the registry serves TLS from. */
  tlsSecretName: string;
  signingKeyId: string;
  /** Human-readable notes of what was generated or rotated (become Events). */
  changes: string[];
}

export function decode(secret: V1Secret | undefined, key: string): string | undefined {
  const v = secret?.data?.[key];
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
}

function secret(reg: Registry, name: string, data: Record<string, string>, annotations: Record<string, string> = {}, type = 'Opaque'): V1Secret {
  const encoded: Record<string, string> = {};
  for (const key of Object.keys(data).sort()) encoded[key] = Buffer.from(data[key]!, 'utf8').toString('base64');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name,
      namespace: reg.metadata.namespace,
      labels: registryLabels(reg, 'secrets'),
      ...(Object.keys(annotations).length ? { annotations } : {}),
      ownerReferences: [ownerReference(reg)],
    },
    type,
    data: encoded,
  };
}

async function jwks(keys: string[]): Promise<string> {
  return JSON.stringify({ keys: await Promise.all(keys.map((k) => publicJwk(k))) });
}

export async function reconcileMaterial(
  reg: Registry,
  existing: ExistingMaterial,
  options: { rolloutComplete: boolean; now?: Date },
): Promise<Material> {
  const names = childNames(reg.metadata.name!);
  const now = options.now ?? new Date();
  const changes: string[] = [];
  const secrets: V1Secret[] = [];
  const rotation = reg.spec.rotation ?? {};

  // CA and serving certificate.
  let caBundle = '';
  let tlsSecretName = names.tlsSecret;
  if (reg.spec.tls.secretName) {
    tlsSecretName = reg.spec.tls.secretName;
    caBundle = decode(existing.userTls, 'ca.crt') ?? '';
  } else if (reg.spec.tls.issuerRef) {
    caBundle = decode(existing.tls, 'ca.crt') ?? '';
  } else {
    let caCert = decode(existing.ca, 'ca.crt');
    let caKey = decode(existing.ca, 'ca.key');
    let previousCa = decode(existing.ca, 'previous-ca.crt');
    const caRotation = existing.ca?.metadata?.annotations?.[ROTATION_ANNOTATION] ?? '';
    const wantCaRotation = rotation.ca !== undefined && rotation.ca !== caRotation;
    if (!caCert || !caKey || (wantCaRotation && existing.ca)) {
      // A rotated CA keeps the old one in the bundle, so clients keep trusting the old
      // serving certificate until they have fetched the new bundle.
      previousCa = wantCaRotation && caCert ? caCert : previousCa;
      const ca = await generateCA(`${reg.metadata.name} registry CA`, now);
      caCert = ca.certPem;
      caKey = ca.keyPem;
      changes.push(existing.ca ? 'rotated the registry CA' : 'generated the registry CA');
    }
    const caData: Record<string, string> = { 'ca.crt': caCert, 'ca.key': caKey };
    if (previousCa) caData['previous-ca.crt'] = previousCa;
    const caAnnotation = rotation.ca ?? caRotation;
    secrets.push(secret(reg, names.caSecret, caData, caAnnotation ? { [ROTATION_ANNOTATION]: caAnnotation } : {}));
    caBundle = previousCa ? `${caCert.trimEnd()}\n${previousCa.trimEnd()}\n` : caCert;

    const wanted = servingNames(reg);
    let certPem = decode(existing.tls, 'tls.crt');
    let keyPem = decode(existing.tls, 'tls.key');
    const reason = certPem ? servingCertificateProblem(certPem, caCert, wanted, now) : 'missing';
    if (!certPem || !keyPem || reason) {
      const issued = await issueServingCertificate({ certPem: caCert, keyPem: caKey }, wanted, 365, now);
      certPem = issued.certPem;
      keyPem = issued.keyPem;
      changes.push(existing.tls ? `reissued the serving certificate (${reason})` : 'issued the serving certificate');
    }
    secrets.push(secret(reg, names.tlsSecret, { 'tls.crt': certPem, 'tls.key': keyPem, 'ca.crt': caBundle }, {}, 'kubernetes.io/tls'));
  }

  // Token signing keys.
  const tokenRotation = rotation.tokenSigningKey;
  let signing = decode(existing.token, 'signing.key');
  let next = decode(existing.token, 'next.key');
  let previous = decode(existing.token, 'previous.key');
  let done = existing.token?.metadata?.annotations?.[ROTATION_ANNOTATION] ?? '';
  let pending = existing.token?.metadata?.annotations?.[PENDING_ROTATION_ANNOTATION];
  if (!signing) {
    signing = (await generateSigningKey()).keyPem;
    next = previous = pending = undefined;
    done = tokenRotation ?? '';
    changes.push('generated the token signing key');
  } else if (next && pending !== undefined && options.rolloutComplete) {
    previous = signing;
    signing = next;
    next = undefined;
    done = pending;
    pending = undefined;
    changes.push('token signing moved to the new key; the previous key stays valid for verification');
  } else if (!next && tokenRotation !== undefined && tokenRotation !== done) {
    next = (await generateSigningKey()).keyPem;
    pending = tokenRotation;
    changes.push('published a new token verification key; signing moves to it once every replica has it');
  }
  const signingKid = (await publicJwk(signing)).kid as string;
  const tokenData: Record<string, string> = {
    'signing.key': signing,
    'signing.kid': signingKid,
    'verification.jwks': await jwks([signing, ...(next ? [next] : []), ...(previous ? [previous] : [])]),
  };
  if (next) tokenData['next.key'] = next;
  if (previous) tokenData['previous.key'] = previous;
  const tokenAnnotations: Record<string, string> = {};
  if (done) tokenAnnotations[ROTATION_ANNOTATION] = done;
  if (pending !== undefined) tokenAnnotations[PENDING_ROTATION_ANNOTATION] = pending;
  secrets.push(secret(reg, names.tokenSecret, tokenData, tokenAnnotations));

  // Initial admin credentials.
  if (!reg.spec.adminPasswordSecret) {
    let password = decode(existing.admin, 'password');
    if (!password) {
      password = generatePassword();
      changes.push('generated the initial admin credentials');
    }
    secrets.push(secret(reg, names.adminSecret, { username: decode(existing.admin, 'username') ?? 'admin', password }));
  }

  return { secrets, caBundle, tlsSecretName, signingKeyId: signingKid, changes };
}

/** Why a serving certificate must be reissued, or undefined when it is still right. */
export function servingCertificateProblem(certPem: string, caPem: string, wanted: readonly string[], now: Date): string | undefined {
  let info: ReturnType<typeof describeCertificate>;
  try {
    info = describeCertificate(certPem);
  } catch {
    return 'unreadable';
  }
  if (!isSignedBy(certPem, caPem)) return 'signed by another CA';
  if (info.notAfter.getTime() - now.getTime() < RENEW_BEFORE_MS) return 'expires soon';
  const have = new Set(info.names);
  const missing = wanted.filter((n) => !have.has(n));
  if (missing.length) return `missing names ${missing.join(', ')}`;
  return undefined;
}
