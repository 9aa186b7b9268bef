/** Audit entries for changes made through /api. */
import { principalName } from '../../auth/identity.ts';
import type { AuditOperation } from '../../metadata/access-store.ts';
import type { ApiContext, ApiRequest } from '../context.ts';

export function recordChange(
  request: ApiRequest,
  context: ApiContext,
  operation: AuditOperation,
  resourceType: string,
  resource: string,
  project?: string,
  detail?: Record<string, unknown>,
): void {
  context.audit.record({
    principal: principalName(request.caller.principal),
    operation,
    resourceType,
    resource,
    outcome: 'success',
    clientAddress: request.clientAddress,
    ...(project !== undefined ? { project } : {}),
    ...(detail !== undefined ? { detail } : {}),
  });
}

export function location(path: string): Record<string, string> {
  return { Location: path };
}
