/** Digest computation with Node's crypto (the fastest hasher here; see bench/hashers.ts). */
import { createHash, type Hash } from 'node:crypto';
import type { DigestAlgorithm } from './grammar.ts';

export function newHash(algorithm: DigestAlgorithm): Hash {
  return createHash(algorithm);
}

export function digestOf(content: Buffer, algorithm: DigestAlgorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(content).digest('hex')}`;
}
