/**
 * The audit seam for every authenticated operation: the /v2 layer (push, pull, delete), the
 * token endpoint and Basic auth (logins) and this API (project/member/robot/user changes)
 * all record through an AuditSink. Recording never fails the request: a failed write is
 * logged (without the event's secrets, which events never carry) and the request goes on.
 */
import type { Logger } from 'pino';
import type { LoginEvent } from '../auth/authenticator.ts';
import type { AccessStore, AuditEvent } from '../metadata/access-store.ts';

export interface AuditSink {
  /** Fire and forget. */
  record(event: AuditEvent): void;
  /** Resolves once every event recorded so far is written (tests, shutdown). */
  flush(): Promise<void>;
}

/** Writes each event with AccessStore.appendAudit. */
export class AccessStoreAuditSink implements AuditSink {
  private readonly store: Pick<AccessStore, 'appendAudit'>;
  private readonly logger: Logger;
  private readonly pending = new Set<Promise<void>>();

  constructor(store: Pick<AccessStore, 'appendAudit'>, logger: Logger) {
    this.store = store;
    this.logger = logger;
  }

  record(event: AuditEvent): void {
    const write: Promise<void> = this.store.appendAudit(event).then(
      () => {},
      (err: unknown) => this.logger.warn({ err, operation: event.operation, resourceType: event.resourceType }, 'audit write failed'),
    );
    this.pending.add(write);
    void write.finally(() => this.pending.delete(write));
  }

  async flush(): Promise<void> {
    await Promise.all([...this.pending]);
  }
}

/** The PasswordAuthenticator's onLogin hook, recording login success and failure. */
export function loginAuditHook(sink: AuditSink): (event: LoginEvent) => void {
  return (event) => {
    sink.record({
      principal: event.username,
      operation: 'login',
      resourceType: 'user',
      resource: event.username,
      outcome: event.outcome === 'success' ? 'success' : 'failure',
      ...(event.clientAddress !== undefined ? { clientAddress: event.clientAddress } : {}),
      detail: { channel: event.channel, ...(event.outcome === 'rate-limited' ? { reason: 'rate-limited' } : event.reason ? { reason: event.reason } : {}) },
    });
  };
}
