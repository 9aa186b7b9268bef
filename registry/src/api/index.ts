/**
 * The management API (/api/v2.0, /c/login) and the token endpoint (/service/token), for the
 * composition root to mount. See docs/api.md.
 */
export { createManagementRouter, SESSION_LOGIN_PATH, SESSION_LOGOUT_PATH } from './router.ts';
export { createTokenRouter, type TokenRouterDeps } from './token-router.ts';
export type { ManagementDeps } from './context.ts';
export { AccessStoreAuditSink, loginAuditHook, type AuditSink } from './audit.ts';
export { openApiDocument, OPERATIONS, API_PREFIX, type Operation } from './operations.ts';
export { CSRF_HEADER, SESSION_COOKIE } from './sessions.ts';
export { v2AuditEvent, v2AuditRecorder, type V2Exchange } from './v2-audit.ts';
