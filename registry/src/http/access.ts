/**
 * The auth seam of the /v2 API. Every route declares what it needs (routes.ts); the
 * AccessController decides. Token auth (issue 4) implements it; the default allows all.
 */
import { isValidRepositoryName } from '../oci/grammar.ts';
import { firstQueryValue } from './request.ts';

export interface AccessRequest {
  type: 'repository' | 'registry';
  name: string;
  actions: string[];
  /**
   * Asked for in a 401 challenge's scope, never required: the source repository of a mount,
   * whose refusal only turns the mount into an upload session. Clients fetch a token for the
   * challenge's scope, so without it a token client could never mount.
   */
  optional?: boolean;
}

export interface AccessCallerRequest {
  method: string;
  headers: Record<string, string | string[] | undefined>;
  /** The client's address (failed-login rate limits per address). */
  clientAddress?: string;
}

export type AccessDecision =
  | { ok: true; subject?: string }
  | {
      ok: false;
      status: 401 | 403;
      challenge?: string;
      code: 'UNAUTHORIZED' | 'DENIED';
      message: string;
      /** Who was refused, when the caller was identified (a valid token or Basic login): for the audit log. */
      subject?: string;
    };

export interface AccessController {
  /** `wanted` empty means "any authenticated caller" (GET /v2/). */
  authorize(request: AccessCallerRequest, wanted: AccessRequest[]): Promise<AccessDecision>;
}

/** No authentication: everything is allowed (embedded default, tests). */
export const allowEverything: AccessController = {
  authorize: async () => ({ ok: true }),
};

export function pullAccess(repository: string): AccessRequest[] {
  return [{ type: 'repository', name: repository, actions: ['pull'] }];
}
export function pushAccess(repository: string): AccessRequest[] {
  return [{ type: 'repository', name: repository, actions: ['pull', 'push'] }];
}
/** POST uploads: push, and pull on the repository a blob is mounted `from` (optional). */
export function uploadStartAccess(repository: string, query: Record<string, string | string[] | undefined>): AccessRequest[] {
  const from = firstQueryValue(query.from);
  const mounting = query.mount !== undefined && from !== undefined && from !== '' && from !== repository && isValidRepositoryName(from);
  return mounting ? [...pushAccess(repository), { ...pullAccess(from)[0]!, optional: true }] : pushAccess(repository);
}
export function deleteAccess(repository: string): AccessRequest[] {
  return [{ type: 'repository', name: repository, actions: ['delete'] }];
}
export const catalogAccess: AccessRequest[] = [{ type: 'registry', name: 'catalog', actions: ['*'] }];
