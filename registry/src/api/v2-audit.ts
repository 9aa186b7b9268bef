/**
 * Audit of /v2 operations without touching the /v2 handlers: a Koa middleware placed before
 * the /v2 routes reads, after the response, the method, path, status and the subject the
 * AccessController put in ctx.state.subject, and records push, pull and delete. Anonymous
 * requests are not recorded (the log is of authenticated operations). A 401/403 is recorded
 * as a failure when the caller was identified (the access check sets the subject on refusals
 * too): a refused manifest push, pull or delete, and a refused blob upload, which is where a
 * push without push access stops.
 */
import type { Context, Middleware, Next } from 'koa';
import type { AuditEvent } from '../metadata/access-store.ts';
import type { AuditSink } from './audit.ts';

export interface V2Exchange {
  method: string;
  path: string;
  status: number;
  subject: string | undefined;
  /** Docker-Content-Digest of the response, if any. */
  digest: string | undefined;
  clientAddress: string;
}

const MANIFEST = /^\/v2\/(.+)\/manifests\/([^/]+)$/;
const BLOB = /^\/v2\/(.+)\/blobs\/([^/]+)$/;
const UPLOAD = /^\/v2\/(.+)\/blobs\/uploads\/([^/]*)$/;
const REFUSED = new Set([401, 403]);

/** What a /v2 request acts on, as the audit log names it. */
interface AuditTarget {
  operation: AuditEvent['operation'];
  resourceType: 'artifact' | 'blob';
  repository: string;
  resource: string;
  /** The tag or digest in the path, if any. */
  reference?: string;
  /** Whether a success is recorded: an upload step is not (the manifest PUT records the push). */
  successRecorded: boolean;
}

function auditTarget(method: string, path: string): AuditTarget | undefined {
  const upload = UPLOAD.exec(path);
  if (upload) return { operation: 'push', resourceType: 'blob', repository: upload[1]!, resource: upload[1]!, successRecorded: false };
  const manifest = MANIFEST.exec(path);
  const match = manifest ?? BLOB.exec(path);
  if (!match) return undefined;
  const repository = match[1]!;
  const reference = match[2]!;
  let operation: AuditEvent['operation'];
  if (manifest && method === 'PUT') operation = 'push';
  else if (manifest && method === 'GET') operation = 'pull';
  else if (method === 'DELETE') operation = 'delete';
  else return undefined;
  const separator = reference.includes(':') ? '@' : ':';
  return { operation, resourceType: manifest ? 'artifact' : 'blob', repository, resource: `${repository}${separator}${reference}`, reference, successRecorded: true };
}

/** The audit event of one /v2 exchange, or undefined when it is not one the log keeps. */
export function v2AuditEvent(exchange: V2Exchange): AuditEvent | undefined {
  if (!exchange.subject) return undefined;
  const target = auditTarget(exchange.method.toUpperCase(), exchange.path);
  if (!target) return undefined;
  const success = exchange.status < 300;
  // Successes and refusals are news; a 404 pull of a missing tag is not an operation.
  if (success ? !target.successRecorded : !REFUSED.has(exchange.status)) return undefined;
  const event: AuditEvent = {
    principal: exchange.subject,
    operation: target.operation,
    resourceType: target.resourceType,
    resource: target.resource,
    project: target.repository.split('/')[0]!,
    outcome: success ? 'success' : 'failure',
    clientAddress: exchange.clientAddress,
  };
  if (!success) event.detail = { status: exchange.status };
  else if (exchange.digest && exchange.digest !== target.reference) event.detail = { digest: exchange.digest };
  return event;
}

/** `app.use(v2AuditRecorder(sink))` before the /v2 routes (outside their error middleware). */
export function v2AuditRecorder(sink: AuditSink): Middleware {
  return async (ctx: Context, next: Next) => {
    try {
      await next();
    } finally {
      if (ctx.path.startsWith('/v2/')) {
        const digest = ctx.response.get('Docker-Content-Digest');
        const event = v2AuditEvent({
          method: ctx.method,
          path: ctx.path,
          status: ctx.status,
          subject: typeof ctx.state.subject === 'string' ? ctx.state.subject : undefined,
          digest: digest === '' ? undefined : digest,
          clientAddress: ctx.ip,
        });
        if (event) sink.record(event);
      }
    }
  };
}
