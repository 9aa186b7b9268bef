/**
 * Manifest parsing and validation: OCI image manifest and index, Docker schema 2 manifest and
 * manifest list, and artifact manifests (artifactType, empty config). The stored bytes are
 * always exactly what was pushed; this only derives what the registry needs from them.
 */
import { RegistryError } from '../errors.ts';
import { tryParseDigest } from './grammar.ts';
import { manifestKind, mediaTypes, type ManifestKind } from './media-types.ts';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface ParsedManifest {
  mediaType: string;
  kind: ManifestKind;
  /** Blobs that must be present in the repository (config and distributable layers). */
  blobs: string[];
  /** Child manifests that must be present in the repository (index entries). */
  manifests: string[];
  subject?: Descriptor;
  /** artifactType, else config.mediaType (what the referrers API reports). */
  artifactType?: string;
  annotations?: Record<string, string>;
}

function invalid(message: string, detail?: unknown): RegistryError {
  return new RegistryError('MANIFEST_INVALID', message, detail === undefined ? {} : { detail });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseAnnotations(value: unknown, where: string): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw invalid(`${where}.annotations must be an object of strings`);
  for (const v of Object.values(value)) {
    if (typeof v !== 'string') throw invalid(`${where}.annotations must be an object of strings`);
  }
  return value as Record<string, string>;
}

export function parseDescriptor(value: unknown, where: string): Descriptor {
  if (!isObject(value)) throw invalid(`${where} must be a descriptor object`);
  const { mediaType, digest, size, urls, artifactType } = value;
  if (typeof mediaType !== 'string' || mediaType === '') throw invalid(`${where}.mediaType must be a string`);
  if (typeof digest !== 'string' || !tryParseDigest(digest)) throw invalid(`${where}.digest is not a valid digest`, { digest });
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw invalid(`${where}.size must be a non-negative integer`);
  const descriptor: Descriptor = { mediaType, digest, size };
  if (urls !== undefined && urls !== null) {
    if (!Array.isArray(urls) || urls.some((u) => typeof u !== 'string')) throw invalid(`${where}.urls must be an array of strings`);
    if (urls.length > 0) descriptor.urls = urls as string[];
  }
  if (artifactType !== undefined) {
    if (typeof artifactType !== 'string') throw invalid(`${where}.artifactType must be a string`);
    descriptor.artifactType = artifactType;
  }
  const annotations = parseAnnotations(value.annotations, where);
  if (annotations) descriptor.annotations = annotations;
  return descriptor;
}

/** Strips parameters from a Content-Type value. */
export function bareMediaType(contentType: string | undefined): string | undefined {
  if (!contentType) return undefined;
  const semi = contentType.indexOf(';');
  return (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase() || undefined;
}

/**
 * Parses and validates a pushed manifest. `contentType` is the request's Content-Type; the
 * manifest's own mediaType field wins when present and the two must then agree.
 */
export function parseManifest(content: Buffer, contentType: string | undefined): ParsedManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(content.toString('utf8'));
  } catch {
    throw invalid('manifest is not valid JSON');
  }
  if (!isObject(doc)) throw invalid('manifest must be a JSON object');

  const declared = doc.mediaType;
  if (declared !== undefined && typeof declared !== 'string') throw invalid('mediaType must be a string');
  const header = bareMediaType(contentType);
  let mediaType: string | undefined;
  if (declared) {
    if (header && manifestKind(header) && header !== declared) {
      throw invalid('Content-Type does not match the manifest mediaType', { contentType: header, mediaType: declared });
    }
    mediaType = declared;
  } else if (header && manifestKind(header)) {
    mediaType = header;
  } else if (Array.isArray(doc.manifests)) {
    mediaType = mediaTypes.ociIndex;
  } else if (isObject(doc.config)) {
    mediaType = mediaTypes.ociManifest;
  }
  if (mediaType === mediaTypes.dockerSchema1 || mediaType === mediaTypes.dockerSchema1Signed || doc.schemaVersion === 1) {
    throw invalid('Docker schema 1 manifests are not supported');
  }
  const kind = mediaType ? manifestKind(mediaType) : undefined;
  if (!mediaType || !kind) throw invalid('unsupported manifest media type', { mediaType: mediaType ?? header });
  if (doc.schemaVersion !== 2) throw invalid('schemaVersion must be 2');

  const parsed: ParsedManifest = { mediaType, kind, blobs: [], manifests: [] };
  const annotations = parseAnnotations(doc.annotations, 'manifest');
  if (annotations) parsed.annotations = annotations;
  if (doc.artifactType !== undefined) {
    if (typeof doc.artifactType !== 'string') throw invalid('artifactType must be a string');
    parsed.artifactType = doc.artifactType;
  }
  if (doc.subject !== undefined && doc.subject !== null) parsed.subject = parseDescriptor(doc.subject, 'subject');

  if (kind === 'image') {
    const config = parseDescriptor(doc.config, 'config');
    parsed.blobs.push(config.digest);
    parsed.artifactType ??= config.mediaType;
    const layers = doc.layers ?? [];
    if (!Array.isArray(layers)) throw invalid('layers must be an array');
    layers.forEach((layer, i) => {
      const descriptor = parseDescriptor(layer, `layers[${i}]`);
      // Non-distributable layers (with urls) live elsewhere and are never pushed here.
      if (!descriptor.urls) parsed.blobs.push(descriptor.digest);
    });
  } else {
    const manifests = doc.manifests;
    if (!Array.isArray(manifests)) throw invalid('manifests must be an array');
    manifests.forEach((entry, i) => {
      parsed.manifests.push(parseDescriptor(entry, `manifests[${i}]`).digest);
    });
  }
  parsed.blobs = [...new Set(parsed.blobs)];
  parsed.manifests = [...new Set(parsed.manifests)];
  return parsed;
}
