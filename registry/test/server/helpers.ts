/** Small helpers for the server tests: free ports, captured logs, blob push and fetch. */
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Logger } from 'pino';

/** A port that was free a moment ago (nothing listens on it now). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || !address) throw new Error('no port');
  return address.port;
}

/** A pino logger writing into `lines` (one JSON object per line). */
export function capturedLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

export function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Monolithic upload (POST ?digest=) of `data` into `repository`; returns its digest. */
export async function pushBlob(baseUrl: string, repository: string, data: Buffer): Promise<string> {
  const digest = sha256(data);
  const response = await fetch(`${baseUrl}/v2/${repository}/blobs/uploads/?digest=${digest}`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength),
  });
  if (response.status !== 201) throw new Error(`push of ${digest}: HTTP ${response.status} ${await response.text()}`);
  return digest;
}

/** The blob's bytes, or the HTTP status when it is not served. */
export async function pullBlob(baseUrl: string, repository: string, digest: string): Promise<Buffer | number> {
  const response = await fetch(`${baseUrl}/v2/${repository}/blobs/${digest}`);
  if (response.status !== 200) return response.status;
  return Buffer.from(await response.arrayBuffer());
}
