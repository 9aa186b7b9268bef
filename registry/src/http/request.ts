/** Parsing of the request parts the /v2 handlers share: ranges, pagination, bodies. */
import type { IncomingMessage } from 'node:http';
import { RegistryError } from '../errors.ts';

/**
 * A blob GET `Range` header resolved against the blob size: undefined means "send it all"
 * (no header, or one we do not serve such as multiple ranges); 'unsatisfiable' means 416.
 */
export function parseByteRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) return undefined;
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return undefined;
  let start: number;
  let end: number;
  if (first === '') {
    // Suffix range: the last N bytes.
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(first);
    end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
    // RFC 9110 would ignore an inverted range; the conformance suite expects 416.
    if (last !== '' && Number(last) < start) return 'unsatisfiable';
  }
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

/**
 * PATCH/PUT `Content-Range`: `<start>-<end>` (also tolerating `bytes ` and `/<total>`).
 * A malformed header becomes a range no session can match, so the upload answers 416 with
 * its current Range.
 */
export function parseContentRange(header: string | undefined): { start: number; end: number } | undefined {
  if (header === undefined || header === '') return undefined;
  const match = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(header.trim());
  if (!match) return { start: -1, end: -1 };
  return { start: Number(match[1]), end: Number(match[2]) };
}

/** The `n` query parameter: undefined when absent, else a non-negative integer. */
export function parsePageSize(value: string | string[] | undefined): number | undefined {
  if (value === undefined) return undefined;
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || text === '') return undefined;
  if (!/^\d{1,9}$/.test(text)) throw new RegistryError('PAGINATION_NUMBER_INVALID', undefined, { detail: { n: text.slice(0, 20) } });
  return Number(text);
}

export function firstQueryValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

export function allQueryValues(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** Whether the request carries a body (a Content-Length above 0, or chunked). */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  if (length !== undefined) return Number(length) > 0;
  return req.headers['transfer-encoding'] !== undefined;
}

export function contentLength(req: IncomingMessage): number | undefined {
  const length = req.headers['content-length'];
  if (length === undefined || !/^\d+$/.test(length)) return undefined;
  return Number(length);
}

/** Reads a whole body of at most `limit` bytes; larger bodies get 413 without being buffered. */
export async function readLimitedBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = () => new RegistryError('SIZE_INVALID', 'manifest too large', { status: 413, detail: { limit } });
  const declared = contentLength(req);
  if (declared !== undefined && declared > limit) {
    req.resume();
    throw tooLarge();
  }
  // Listen rather than iterate: leaving a for-await early would destroy the socket before the 413.
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let overflow = false;
    req.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total > limit) overflow = true;
      if (!overflow) chunks.push(chunk);
    });
    req.once('end', () => (overflow ? reject(tooLarge()) : resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total))));
    req.once('error', reject);
  });
}

/** Drains an unused request body so the connection can be reused. */
export function discardBody(req: IncomingMessage): void {
  if (!req.readableEnded) req.resume();
}
