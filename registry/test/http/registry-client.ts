/** A small HTTP client for the /v2 suites: just fetch, plus helpers that build test content. */
import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';

export interface Reply {
  status: number;
  headers: Headers;
  body: Buffer;
  json(): any;
}

export class V2Client {
  constructor(readonly baseUrl: string) {}

  async request(method: string, path: string, init: { headers?: Record<string, string>; body?: Buffer | string | ReadableStream<Uint8Array> } = {}): Promise<Reply> {
    const url = path.startsWith('http') ? path : this.baseUrl + path;
    const body = typeof init.body === 'string' ? Buffer.from(init.body) : init.body;
    const response = await fetch(url, {
      method,
      redirect: 'manual',
      ...(init.headers ? { headers: init.headers } : {}),
      ...(body !== undefined
        ? { body: Buffer.isBuffer(body) ? new Uint8Array(body.buffer as ArrayBuffer, body.byteOffset, body.byteLength) : body, duplex: 'half' }
        : {}),
    } as RequestInit);
    const bytes = Buffer.from(await response.arrayBuffer());
    return {
      status: response.status,
      headers: response.headers,
      body: bytes,
      json: () => JSON.parse(bytes.toString('utf8')),
    };
  }

  /** A request whose path is sent exactly as written (no URL normalisation). */
  rawRequest(method: string, path: string): Promise<Reply> {
    const base = new URL(this.baseUrl);
    return new Promise((resolve, reject) => {
      const req = httpRequest({ host: base.hostname, port: base.port, method, path }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v);
          resolve({ status: res.statusCode ?? 0, headers, body, json: () => JSON.parse(body.toString('utf8')) });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
  }

  /** Resolves a Location header (relative or absolute) to a full URL. */
  resolve(location: string | null): string {
    if (!location) throw new Error('no Location header');
    return new URL(location, this.baseUrl).toString();
  }

  /** POST ?digest= monolithic upload; returns the digest. */
  async pushBlob(repository: string, data: Buffer, algorithm: 'sha256' | 'sha512' = 'sha256'): Promise<string> {
    const digest = digestOf(data, algorithm);
    const reply = await this.request('POST', `/v2/${repository}/blobs/uploads/?digest=${digest}`, {
      headers: { 'content-type': 'application/octet-stream' },
      body: data,
    });
    if (reply.status !== 201) throw new Error(`push blob: HTTP ${reply.status} ${reply.body.toString()}`);
    return digest;
  }

  /** Pushes config and layers, then the manifest under `reference`; returns the manifest digest. */
  async pushImage(repository: string, reference: string, layerCount = 2): Promise<{ digest: string; manifest: Buffer; blobs: string[] }> {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, nonce: randomBytes(8).toString('hex') }));
    const layers = Array.from({ length: layerCount }, () => randomBytes(1000 + Math.floor(Math.random() * 1000)));
    const configDigest = await this.pushBlob(repository, config);
    const layerDigests: string[] = [];
    for (const layer of layers) layerDigests.push(await this.pushBlob(repository, layer));
    const manifest = imageManifest(
      { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers.map((l, i) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigests[i]!, size: l.length })),
    );
    const reply = await this.putManifest(repository, reference, manifest);
    if (reply.status !== 201) throw new Error(`push manifest: HTTP ${reply.status} ${reply.body.toString()}`);
    return { digest: digestOf(manifest), manifest, blobs: [configDigest, ...layerDigests] };
  }

  putManifest(repository: string, reference: string, manifest: Buffer, mediaType = 'application/vnd.oci.image.manifest.v1+json'): Promise<Reply> {
    return this.request('PUT', `/v2/${repository}/manifests/${reference}`, { headers: { 'content-type': mediaType }, body: manifest });
  }
}

export interface TestDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  [key: string]: unknown;
}

export function digestOf(data: Buffer | string, algorithm: 'sha256' | 'sha512' = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}

export function imageManifest(config: TestDescriptor, layers: TestDescriptor[], extra: Record<string, unknown> = {}): Buffer {
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers, ...extra }, null, 2));
}

export function indexManifest(manifests: TestDescriptor[], extra: Record<string, unknown> = {}): Buffer {
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests, ...extra }));
}

/** A body streamed in pieces with no Content-Length (chunked transfer encoding). */
export function chunkedBody(pieces: Buffer[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const piece = pieces[i++];
      if (piece) controller.enqueue(new Uint8Array(piece));
      else controller.close();
    },
  });
}

export function errorCode(reply: Reply): string | undefined {
  try {
    return reply.json().errors?.[0]?.code;
  } catch {
    return undefined;
  }
}
