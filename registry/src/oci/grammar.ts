/**
 * The distribution spec's grammar for repository names, tags and digests, checked in this
 * one place. Every parser throws the RegistryError the spec assigns to bad input.
 */
import { RegistryError } from '../errors.ts';

/** A path component: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`. */
const NAME_COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const NAME = new RegExp(`^${NAME_COMPONENT}(?:/${NAME_COMPONENT})*$`);
/** Distribution's limit on the whole name. */
export const MAX_NAME_LENGTH = 255;

const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

/** Registered algorithms and the exact form of their encoded part. */
export const digestAlgorithms = {
  sha256: /^[a-f0-9]{64}$/,
  sha512: /^[a-f0-9]{128}$/,
} as const;

export type DigestAlgorithm = keyof typeof digestAlgorithms;

/** The general digest grammar, to tell "not a digest" (a tag) from "a bad digest". */
const DIGEST_SHAPE = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

export interface Digest {
  /** algorithm:encoded, as given (already canonical when valid). */
  value: string;
  algorithm: DigestAlgorithm;
  encoded: string;
}

export function isValidRepositoryName(name: string): boolean {
  return name.length <= MAX_NAME_LENGTH && NAME.test(name);
}

export function parseRepositoryName(name: string): string {
  if (!isValidRepositoryName(name)) {
    throw new RegistryError('NAME_INVALID', 'invalid repository name', { detail: { name: name.slice(0, MAX_NAME_LENGTH + 1) } });
  }
  return name;
}

export function isValidTag(tag: string): boolean {
  return TAG.test(tag);
}

/** A tag off the grammar is MANIFEST_INVALID: clients and the conformance suites know only the spec's codes. */
export function parseTag(tag: string): string {
  if (!TAG.test(tag)) throw new RegistryError('MANIFEST_INVALID', 'invalid tag', { detail: { tag: tag.slice(0, 200) } });
  return tag;
}

/** A digest of a registered algorithm, or undefined. */
export function tryParseDigest(value: string): Digest | undefined {
  const colon = value.indexOf(':');
  if (colon < 0) return undefined;
  const algorithm = value.slice(0, colon);
  const encoded = value.slice(colon + 1);
  if (algorithm !== 'sha256' && algorithm !== 'sha512') return undefined;
  if (!digestAlgorithms[algorithm].test(encoded)) return undefined;
  return { value, algorithm, encoded };
}

export function parseDigest(value: string): Digest {
  const digest = tryParseDigest(value);
  if (!digest) {
    // An unregistered algorithm is UNSUPPORTED in spirit, but clients expect DIGEST_INVALID.
    throw new RegistryError('DIGEST_INVALID', 'invalid digest', { detail: { digest: value.slice(0, 200) } });
  }
  return digest;
}

export type Reference = { kind: 'tag'; tag: string } | { kind: 'digest'; digest: Digest };

/** A manifest reference: a digest when it has the digest shape, else a tag. */
export function parseReference(reference: string): Reference {
  if (reference.includes(':')) {
    if (!DIGEST_SHAPE.test(reference)) throw new RegistryError('DIGEST_INVALID', 'invalid digest', { detail: { reference: reference.slice(0, 200) } });
    return { kind: 'digest', digest: parseDigest(reference) };
  }
  return { kind: 'tag', tag: parseTag(reference) };
}

/**
 * A reference to look a manifest up by (GET, HEAD, DELETE). A tag off the grammar cannot name
 * anything stored, so it is MANIFEST_UNKNOWN (404), as Distribution answers and the v1.1
 * conformance suites expect; a malformed digest stays DIGEST_INVALID.
 */
export function parseLookupReference(reference: string): Reference {
  if (reference.includes(':')) return parseReference(reference);
  if (!TAG.test(reference)) throw new RegistryError('MANIFEST_UNKNOWN', undefined, { detail: { reference: reference.slice(0, 200) } });
  return { kind: 'tag', tag: reference };
}
