/**
 * The load the benchmark sends, identical for every registry: blob pushes (monolithic and
 * chunked), blob pulls, and manifest GET/HEAD by tag. Plain node:http with keep-alive, and
 * pulls through a raw keep-alive socket (BodyDiscardingConnection), so the client costs as
 * little CPU as possible on a 2-core machine it shares with the registry.
 */
import http from 'node:http';
import net from 'node:net';
import { readFileSync } from 'node:fs';
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
  /** CPU time (user + system) the registry process used per operation, when its pid is known. */
  serverCpuMsPerOp?: number;
}

/** CPU seconds (user + system) a process has used so far, from /proc. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** `run`'s figures plus the CPU the registry process `pid` spent per operation meanwhile. */
export async function withServerCpu(pid: number, run: () => Promise<Timed>): Promise<Timed> {
  const before = cpuSeconds(pid);
  const t = await run();
  return { ...t, serverCpuMsPerOp: ((cpuSeconds(pid) - before) * 1000) / t.count };
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
  opts: { headers?: Record<string, string | number>; body?: Buffer } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent, headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
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

/**
 * One keep-alive HTTP/1.1 connection that GETs and discards bodies, reading every response
 * into one reused 1 MiB buffer (`net` `onread`): no HTTP parser copy and no allocation per
 * read. node:http's client spent 11-20 ms of CPU per 16 MiB pull on this 2-core machine, as
 * much as the registry it measured, so pulls measured the client; this one spends what the
 * kernel's copy into that buffer costs.
 */
class BodyDiscardingConnection {
  private readonly socket: net.Socket;
  private readonly ready: Promise<void>;
  /** The response being received: its head until the blank line, then the body bytes left. */
  private pending?: {
    head: string;
    status: number;
    length: number;
    bodyLeft: number;
    resolve: (reply: { status: number; length: number }) => void;
    reject: (err: Error) => void;
  };
  private failure?: Error;

  constructor(url: URL) {
    this.socket = net.connect({
      host: url.hostname,
      port: Number(url.port),
      onread: {
        buffer: Buffer.allocUnsafe(1024 * 1024),
        callback: (n, buffer) => {
          this.received(Buffer.from(buffer.buffer, buffer.byteOffset, n));
          return true; // keep reading
        },
      },
    });
    this.socket.setNoDelay(true);
    this.ready = new Promise((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
    this.socket.on('error', (err) => this.fail(err));
    this.socket.on('close', () => this.fail(new Error('connection closed')));
  }

  /** False once the connection has failed or closed (a server may close an idle one). */
  get usable(): boolean {
    return this.failure === undefined;
  }

  /** GETs `path`; resolves with the status and Content-Length once the whole body has arrived. */
  async get(path: string, host: string): Promise<{ status: number; length: number }> {
    await this.ready;
    if (this.failure) throw this.failure;
    return new Promise((resolve, reject) => {
      this.pending = { head: '', status: 0, length: -1, bodyLeft: -1, resolve, reject };
      this.socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nAccept: */*\r\n\r\n`);
    });
  }

  private received(data: Buffer): void {
    const p = this.pending;
    if (!p) return;
    let body = data.length;
    if (p.length < 0) {
      // The head is ASCII and arrives in the first read or two.
      const text = p.head + data.toString('latin1', 0, Math.min(data.length, 8192));
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) {
        p.head = text;
        return;
      }
      const head = text.slice(0, end);
      body = data.length - (end + 4 - p.head.length);
      p.status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      const length = /\r\ncontent-length: *(\d+)/i.exec(head)?.[1];
      if (length === undefined) return this.fail(new Error(`no Content-Length in ${head.split('\r\n')[0]}`));
      p.length = p.bodyLeft = Number(length);
    }
    p.bodyLeft -= body;
    if (p.bodyLeft < 0) return this.fail(new Error('more bytes than Content-Length'));
    if (p.bodyLeft === 0) {
      this.pending = undefined;
      p.resolve({ status: p.status, length: p.length });
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    const p = this.pending;
    this.pending = undefined;
    p?.reject(err);
  }

  close(): void {
    this.socket.destroy();
  }
}

const idleConnections = new Map<string, BodyDiscardingConnection[]>();

/**
 * GETs a blob and checks its status and length. Connections are kept between calls: call
 * closePullConnections() when a batch of pulls is done, before the server's keep-alive
 * timeout can close them under a request.
 */
export async function pullBlob(target: Target, repo: string, blob: Blob): Promise<void> {
  const url = new URL(target.url);
  const idle = idleConnections.get(url.host) ?? [];
  idleConnections.set(url.host, idle);
  let connection = idle.pop();
  while (connection && !connection.usable) connection = idle.pop();
  connection ??= new BodyDiscardingConnection(url);
  const { status, length } = await connection.get(`/v2/${repo}/blobs/${blob.digest}`, url.host).catch((err: Error) => {
    connection.close();
    throw err;
  });
  if (status !== 200) throw new Error(`GET blob: expected 200, got ${status}`);
  if (length !== blob.data.length) throw new Error(`GET blob: ${length} bytes, expected ${blob.data.length}`);
  idle.push(connection);
}

/** Closes the connections pullBlob keeps open. */
export function closePullConnections(): void {
  for (const connections of idleConnections.values()) for (const c of connections.splice(0)) c.close();
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

/** Resident memory of a process, from /proc. */
export function rssMiB(pid: number): number {
  try {
    const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    return kb / 1024;
  } catch {
    return 0;
  }
}

/** Streams `size` bytes in and out of one registry, sampling its resident memory. */
export async function bigBlob(target: Target, pid: number, size: number): Promise<{ peakRssMiB: number; inMiBs: number; outMiBs: number }> {
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(pid))), 50);
  try {
    const piece = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < piece.length; i++) piece[i] = (i * 31 + 7) & 0xff;
    const hash = createHash('sha256');
    for (let sent = 0; sent < size; sent += piece.length) hash.update(piece);
    const digest = `sha256:${hash.digest('hex')}`;
    const repo = 'bench/big';
    const start = await fetch(`${target.url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    if (start.status !== 202) throw new Error(`big blob POST ${start.status}`);
    const loc = new URL(start.headers.get('location')!, target.url);
    loc.searchParams.set('digest', digest);
    const t0 = Date.now();
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(loc, { method: 'PUT', headers: { 'content-type': 'application/octet-stream', 'content-length': size } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      let sent = 0;
      const write = () => {
        while (sent < size) {
          sent += piece.length;
          if (!req.write(piece)) return void req.once('drain', write);
        }
        req.end();
      };
      write();
    });
    if (status !== 201) throw new Error(`big blob PUT ${status}`);
    const inSeconds = (Date.now() - t0) / 1000;
    const t1 = Date.now();
    const got = await new Promise<string>((resolve, reject) => {
      http.get(`${target.url}/v2/${repo}/blobs/${digest}`, (res) => {
        const h = createHash('sha256');
        res.on('data', (c: Buffer) => h.update(c));
        res.on('end', () => resolve(`sha256:${h.digest('hex')}`));
        res.on('error', reject);
      }).on('error', reject);
    });
    if (got !== digest) throw new Error('big blob digest mismatch on pull');
    const outSeconds = (Date.now() - t1) / 1000;
    return { peakRssMiB: peak, inMiBs: size / 1048576 / inSeconds, outMiBs: size / 1048576 / outSeconds };
  } finally {
    clearInterval(sampler);
  }
}

export { request };
