/**
 * Where the registry keeps things in blob storage. The layout is documented as a tree in
 * storage/driver.ts; these functions are its only writers.
 */
import type { Digest } from '../oci/grammar.ts';

export function blobDataPath(digest: Digest): string {
  return `blobs/${digest.algorithm}/${digest.encoded.slice(0, 2)}/${digest.encoded}/data`;
}

export function uploadPrefix(uploadId: string): string {
  return `_uploads/${uploadId}`;
}

export function uploadPartsPrefix(uploadId: string): string {
  return `_uploads/${uploadId}/parts`;
}

export function uploadPartPath(uploadId: string, offset: number): string {
  return `_uploads/${uploadId}/parts/${String(offset).padStart(16, '0')}`;
}

/** The bytes of an upload so far, on a driver that appends (storage/driver.ts, AppendingDriver). */
export function uploadDataPath(uploadId: string): string {
  return `_uploads/${uploadId}/data`;
}
