/**
 * A minimal OCI distribution client for tests that need to act between requests
 * (crash in the middle of an upload, continue on another replica). Uses fetch.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';

export const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export async function startUpload(base: string, repo: string): Promise<string> {
  const res = await fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  await res.arrayBuffer();
  if (res.status !== 202) throw new Error(`POST upload: ${res.status} ${JSON.stringify([...res.headers])}`);
  return res.headers.get('location')!;
}

/** Resolves a Location (relative or absolute) against whichever replica we talk to now. */
export function on(base: string, location: string): string {
  const u = new URL(location, base);
  const b = new URL(base);
  u.protocol = b.protocol;
  u.host = b.host;
  return u.toString();
}

export async function patchChunk(base: string, location: string, offset: number, chunk: Buffer): Promise<{ status: number; location: string; range: string | null }> {
  const res = await fetch(on(base, location), {
    method: 'PATCH',
    headers: {
      'content-type': 'application/octet-stream',
      'content-range': `${offset}-${offset + chunk.length - 1}`,
    },
    body: new Uint8Array(chunk),
  });
  await res.arrayBuffer();
  return { status: res.status, location: res.headers.get('location') ?? location, range: res.headers.get('range') };
}

export async function uploadStatus(base: string, location: string): Promise<{ status: number; range: string | null }> {
  const res = await fetch(on(base, location));
  await res.arrayBuffer();
  return { status: res.status, range: res.headers.get('range') };
}

export async function closeUpload(base: string, location: string, digest: string, last?: Buffer): Promise<Response> {
  const u = new URL(on(base, location));
  u.searchParams.set('digest', digest);
  const res = await fetch(u, {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream' },
    body: new Uint8Array(last ?? Buffer.alloc(0)),
  });
  await res.arrayBuffer();
  return res;
}

export async function headBlob(base: string, repo: string, digest: string): Promise<number> {
  const res = await fetch(`${base}/v2/${repo}/blobs/${digest}`, { method: 'HEAD' });
  return res.status;
}

export async function getBlob(base: string, repo: string, digest: string): Promise<Buffer> {
  const res = await fetch(`${base}/v2/${repo}/blobs/${digest}`);
  if (res.status !== 200) throw new Error(`GET blob ${digest}: ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}

export async function putManifest(base: string, repo: string, ref: string, manifest: object): Promise<string> {
  const body = Buffer.from(JSON.stringify(manifest));
  const res = await fetch(`${base}/v2/${repo}/manifests/${ref}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
    body: new Uint8Array(body),
  });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`PUT manifest: ${res.status} ${text}`);
  return sha256(body);
}

/**
 * Starts a PATCH whose body is `first` and then never ends (the caller kills the server):
 * the request is left hanging mid-body, as when a registry dies during a chunk.
 */
export function hangingPatch(base: string, location: string, offset: number, first: Buffer, declaredLength: number): http.ClientRequest {
  const req = http.request(on(base, location), {
    method: 'PATCH',
    headers: {
      'content-type': 'application/octet-stream',
      'content-length': declaredLength,
      'content-range': `${offset}-${offset + declaredLength - 1}`,
    },
  });
  req.on('error', () => {
    /* the server is killed on purpose */
  });
  req.write(first);
  return req;
}
