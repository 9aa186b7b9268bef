/**
 * The load the benchmark sends, identical for every registry: blob pushes (monolithic and
 * chunked), blob pulls, and manifest GET/HEAD by tag. Plain node:http with keep-alive, so the
 * client costs as little CPU as possible on a 2-core machine.
 */
import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';

export interface Target {
  name: string;
  url: string;
}

export interface Timed {
  /** Operations per second over the whole run. */
  rate: number;
  p50Ms: number;
  p99Ms: number;
  count: number;
  seconds: number;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function request(
  url: string,
  method: string,
  opts: { headers?: Record<string, string | number>; body?: Buffer; discardBody?: boolean } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent, headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => {
        if (!opts.discardBody) chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

function expectStatus(reply: Reply, status: number, what: string): void {
  if (reply.status !== status) throw new Error(`${what}: expected ${status}, got ${reply.status} ${reply.body.toString().slice(0, 300)}`);
}

function absolute(base: string, location: string | undefined): string {
  if (!location) throw new Error('no Location header');
  return new URL(location, base).toString();
}

export interface Blob {
  data: Buffer;
  digest: string;
}

export function randomBlobs(count: number, size: number): Blob[] {
  return Array.from({ length: count }, () => {
    const data = randomBytes(size);
    return { data, digest: `sha256:${createHash('sha256').update(data).digest('hex')}` };
  });
}

export async function pushMonolithic(target: Target, repo: string, blob: Blob): Promise<void> {
  const start = await request(`${target.url}/v2/${repo}/blobs/uploads/`, 'POST', { headers: { 'content-length': 0 } });
  expectStatus(start, 202, 'POST upload');
  const loc = new URL(absolute(target.url, start.headers.location));
  loc.searchParams.set('digest', blob.digest);
  const put = await request(loc.toString(), 'PUT', {
    headers: { 'content-type': 'application/octet-stream', 'content-length': blob.data.length },
    body: blob.data,
  });
  expectStatus(put, 201, 'PUT upload');
}

export async function pushChunked(target: Target, repo: string, blob: Blob, chunkSize: number): Promise<void> {
  const start = await request(`${target.url}/v2/${repo}/blobs/uploads/`, 'POST', { headers: { 'content-length': 0 } });
  expectStatus(start, 202, 'POST upload');
  let location = absolute(target.url, start.headers.location);
  for (let offset = 0; offset < blob.data.length; offset += chunkSize) {
    const chunk = blob.data.subarray(offset, Math.min(offset + chunkSize, blob.data.length));
    const patch = await request(location, 'PATCH', {
      headers: {
        'content-type': 'application/octet-stream',
        'content-length': chunk.length,
        'content-range': `${offset}-${offset + chunk.length - 1}`,
      },
      body: chunk,
    });
    expectStatus(patch, 202, 'PATCH chunk');
    location = absolute(target.url, patch.headers.location);
  }
  const loc = new URL(location);
  loc.searchParams.set('digest', blob.digest);
  const put = await request(loc.toString(), 'PUT', { headers: { 'content-length': 0 } });
  expectStatus(put, 201, 'PUT close');
}

export async function pullBlob(target: Target, repo: string, blob: Blob): Promise<void> {
  const res = await request(`${target.url}/v2/${repo}/blobs/${blob.digest}`, 'GET', { discardBody: true });
  expectStatus(res, 200, 'GET blob');
  if (Number(res.headers['content-length']) !== blob.data.length) throw new Error('short blob');
}

/** Pushes a small image (config + one layer) and tags it; returns the manifest media type. */
export async function pushImage(target: Target, repo: string, tag: string): Promise<string> {
  const [config, layer] = randomBlobs(2, 1024);
  await pushMonolithic(target, repo, config!);
  await pushMonolithic(target, repo, layer!);
  const mediaType = 'application/vnd.oci.image.manifest.v1+json';
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config!.digest, size: 1024 },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layer!.digest, size: 1024 }],
    }),
  );
  const put = await request(`${target.url}/v2/${repo}/manifests/${tag}`, 'PUT', {
    headers: { 'content-type': mediaType, 'content-length': manifest.length },
    body: manifest,
  });
  expectStatus(put, 201, 'PUT manifest');
  return mediaType;
}

/** Runs `op` `total` times with `concurrency` in flight; times each operation. */
export async function timed(total: number, concurrency: number, op: (i: number) => Promise<void>): Promise<Timed> {
  const latencies: number[] = [];
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const i = next++;
        if (i >= total) return;
        const t0 = process.hrtime.bigint();
        await op(i);
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  latencies.sort((a, b) => a - b);
  const pick = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return { rate: total / seconds, p50Ms: pick(0.5), p99Ms: pick(0.99), count: total, seconds };
}

export async function manifestRequest(target: Target, repo: string, tag: string, method: 'GET' | 'HEAD', accept: string): Promise<void> {
  const res = await request(`${target.url}/v2/${repo}/manifests/${tag}`, method, { headers: { accept } });
  expectStatus(res, 200, `${method} manifest`);
}

export { request };
