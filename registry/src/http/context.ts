/** What every /v2 handler receives: the domain services and how to present locations. */
import type { Context } from 'koa';
import type { Logger } from 'pino';
import type { MetadataStore } from '../metadata/store.ts';
import type { BlobStore } from '../domain/blob-store.ts';
import type { BlobUploadSessions } from '../domain/uploads.ts';
import type { ManifestService } from '../domain/manifests.ts';
import type { AccessController, AccessRequest } from './access.ts';
import { RegistryError } from '../errors.ts';

export interface V2Services {
  blobs: BlobStore;
  uploads: BlobUploadSessions;
  manifests: ManifestService;
  metadata: MetadataStore;
  access: AccessController;
  logger: Logger;
  /** Absolute external URL without a trailing slash, or '' for relative Locations. */
  externalURL: string;
  /**
   * Mount without `from` links a blob found in any repository (automatic content discovery).
   * Off under access control: a digest alone must not open blobs of repositories the caller
   * may not read.
   */
  mountWithoutFrom: boolean;
}

/** Path parameters, validated by the router before a handler runs. */
export interface RouteParams {
  /** The repository name (grammar-checked). */
  name: string;
  /** The last path segment: reference, digest or upload id (percent-decoded, not yet parsed). */
  last: string;
}

export type Handler = (ctx: Context, params: RouteParams, services: V2Services) => Promise<void>;

/** A response with no body: exactly Content-Length 0 (left alone, Koa would send its status text). */
export function emptyResponse(ctx: Context, status: number): void {
  ctx.body = null;
  ctx.status = status;
}

export function location(services: V2Services, path: string): string {
  return services.externalURL + path;
}

/** Asks the AccessController; a refusal becomes the 401/403 with its challenge. */
export async function authorize(ctx: Context, services: V2Services, wanted: AccessRequest[]): Promise<void> {
  const decision = await services.access.authorize({ method: ctx.method, headers: ctx.headers, clientAddress: ctx.ip }, wanted);
  // The subject is known on refusals too (an identified caller without the access): the audit log records them.
  if (decision.subject !== undefined) ctx.state.subject = decision.subject;
  if (decision.ok) return;
  throw new RegistryError(decision.code, decision.message, {
    status: decision.status,
    ...(decision.challenge ? { headers: { 'WWW-Authenticate': withDescription(decision.challenge, decision.message) } } : {}),
    ...(wanted.length > 0 ? { detail: wanted.map((w) => ({ Type: w.type, Name: w.name, Action: w.actions.join(',') })) } : {}),
  });
}

/**
 * A Bearer challenge that names an RFC 6750 error also carries the reason as
 * error_description: Docker-derived clients (docker, skopeo, podman) print it, and a HEAD
 * answer has no body to carry the message ("project x does not exist").
 */
function withDescription(challenge: string, message: string): string {
  if (!/^Bearer /.test(challenge) || !/[ ,]error="/.test(challenge) || /error_description=/.test(challenge)) return challenge;
  const printable = message.replace(/[^\x20-\x7e]/g, '?').replace(/["\\]/g, "'");
  return `${challenge},error_description="${printable}"`;
}
