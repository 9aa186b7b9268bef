/**
 * What every /api handler receives and returns. Handlers are plain async functions over
 * these (no Koa): the router (router.ts) authenticates, reads and validates the body, calls
 * the handler and writes the result.
 */
import type { Logger } from 'pino';
import type { PasswordAuthenticator } from '../auth/authenticator.ts';
import type { PasswordHasher } from '../auth/secrets.ts';
import type { SystemPolicy } from '../auth/permissions.ts';
import type { CacheStore } from '../cache/cache.ts';
import type { ManifestService } from '../domain/manifests.ts';
import type { AccessStore } from '../metadata/access-store.ts';
import type { MetadataStore } from '../metadata/store.ts';
import type { AuditSink } from './audit.ts';
import type { Caller } from './caller.ts';
import type { SessionStore } from './sessions.ts';

export interface ManagementDeps {
  access: AccessStore;
  metadata: MetadataStore;
  /** Tag and artifact deletes go through it, so /v2's caches drop their entries. */
  manifests: ManifestService;
  /** Sessions live here (Redis across replicas). */
  cache: CacheStore;
  authenticator: PasswordAuthenticator;
  passwords: PasswordHasher;
  audit: AuditSink;
  /** Backend checks for /health, by component name (storage, metadata, cache); each throws when down. */
  health: Record<string, () => Promise<void>>;
  system: {
    version: string;
    /** http.externalURL without a trailing slash. */
    externalURL: string;
    policy?: SystemPolicy;
  };
  logger: Logger;
  sessionTtlSeconds?: number;
  /** Set the Secure flag on the session cookie (the registry is served over HTTPS). */
  secureCookies?: boolean;
  now?: () => Date;
}

/** The deps as handlers see them, with the parts the router builds. */
export interface ApiContext extends ManagementDeps {
  sessions: SessionStore;
  policy: SystemPolicy;
  now: () => Date;
}

export interface ApiRequest {
  /** The request path (for Link headers). */
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  /** Already checked against the operation's request schema. */
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
  caller: Caller;
  clientAddress: string;
}

export interface ApiResult {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type Handler = (request: ApiRequest, context: ApiContext) => Promise<ApiResult>;
