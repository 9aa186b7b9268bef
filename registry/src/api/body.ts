/**
 * Request bodies for /api and the token endpoint, read with a size limit (nothing here
 * needs more than a few kilobytes, and an unbounded read is a memory exhaustion).
 */
import type { IncomingMessage } from 'node:http';
import { ApiError } from './errors.ts';

export const DEFAULT_BODY_LIMIT_BYTES = 64 * 1024;

async function readLimited(request: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw new ApiError('PAYLOAD_TOO_LARGE', `request body larger than ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      request.destroy();
      throw new ApiError('PAYLOAD_TOO_LARGE', `request body larger than ${limit} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function mediaType(request: IncomingMessage): string {
  return (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

/** A JSON body (undefined when empty). Refuses other media types. */
export async function readJsonBody(request: IncomingMessage, limit = DEFAULT_BODY_LIMIT_BYTES): Promise<unknown> {
  const raw = await readLimited(request, limit);
  if (raw.length === 0) return undefined;
  const type = mediaType(request);
  if (type !== '' && type !== 'application/json' && !type.endsWith('+json')) {
    throw new ApiError('UNSUPPORTED_MEDIA_TYPE', 'request bodies are application/json');
  }
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw new ApiError('BAD_REQUEST', 'the request body is not valid JSON');
  }
}

/** An application/x-www-form-urlencoded body; repeated keys become arrays. */
export async function readFormBody(
  request: IncomingMessage,
  limit = DEFAULT_BODY_LIMIT_BYTES,
): Promise<Record<string, string | string[]>> {
  const raw = await readLimited(request, limit);
  const type = mediaType(request);
  if (raw.length > 0 && type !== 'application/x-www-form-urlencoded') {
    throw new ApiError('UNSUPPORTED_MEDIA_TYPE', 'the form must be application/x-www-form-urlencoded');
  }
  return searchParamsRecord(new URLSearchParams(raw.toString('utf8')));
}

export function searchParamsRecord(params: URLSearchParams): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [key, value] of params) {
    const seen = out[key];
    if (seen === undefined) out[key] = value;
    else if (Array.isArray(seen)) seen.push(value);
    else out[key] = [seen, value];
  }
  return out;
}
