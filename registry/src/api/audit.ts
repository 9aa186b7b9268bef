/**
 * The audit seam for every authenticated operation: the /v2 layer (push, pull, delete), the
 * token endpoint and Basic auth (logins) and this API (project/member/robot/user changes)
 * all record through an AuditSink. Recording never fails the request: a failed write is
 * logged (events never carry secrets) and the request goes on.
 */
import type { Logger } from 'pino';
import type { LoginEvent } from '../auth/authenticator.ts';
import type { AccessStore, AuditEvent } from '../metadata/access-store.ts';

export interface AuditSink {
  /** Fire and forget; the event's time is taken now. */
  record(event: AuditEvent): void;
  /** Resolves once every event recorded so far is written (tests, shutdown). */
  flush(): Promise<void>;
}

export interface AccessStoreAuditSinkOptions {
  /** Events are written together at most this long after the first is recorded. */
  flushIntervalMs?: number;
  /** Write as soon as this many wait. */
  batchSize?: number;
  /** Beyond this many waiting (the database is down), new events are dropped and counted. */
  maxPending?: number;
}

/**
 * Buffers events and writes them with AccessStore.appendAuditBatch (one statement per
 * batch), so a burst of pulls costs one insert, not one per pull.
 */
export class AccessStoreAuditSink implements AuditSink {
  private readonly store: Pick<AccessStore, 'appendAuditBatch'>;
  private readonly logger: Logger;
  private readonly intervalMs: number;
  private readonly batchSize: number;
  private readonly maxPending: number;
  private queue: AuditEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private dropped = 0;

  constructor(store: Pick<AccessStore, 'appendAuditBatch'>, logger: Logger, options: AccessStoreAuditSinkOptions = {}) {
    this.store = store;
    this.logger = logger;
    this.intervalMs = options.flushIntervalMs ?? 1000;
    this.batchSize = options.batchSize ?? 100;
    this.maxPending = options.maxPending ?? 10_000;
  }

  record(event: AuditEvent): void {
    if (this.queue.length >= this.maxPending) {
      this.dropped++;
      return;
    }
    this.queue.push({ ...event, at: event.at ?? new Date() });
    if (this.queue.length >= this.batchSize) void this.flush();
    else if (this.timer === undefined) {
      this.timer = setTimeout(() => void this.flush(), this.intervalMs);
      this.timer.unref();
    }
  }

  flush(): Promise<void> {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const batch = this.queue;
    this.queue = [];
    // Batches are written one after another, so entries keep their order.
    this.writing = this.writing.then(() => this.write(batch));
    return this.writing;
  }

  private async write(batch: AuditEvent[]): Promise<void> {
    if (this.dropped > 0) {
      this.logger.warn({ dropped: this.dropped }, 'audit events dropped while the database was not keeping up');
      this.dropped = 0;
    }
    for (let i = 0; i < batch.length; i += this.batchSize) {
      const slice = batch.slice(i, i + this.batchSize);
      try {
        await this.store.appendAuditBatch(slice);
      } catch (err) {
        this.logger.warn({ err, events: slice.length }, 'audit write failed');
      }
    }
  }
}

/**
 * The PasswordAuthenticator's onLogin hook, recording login success and failure. A successful
 * Basic login is not recorded: Basic credentials come with every request of a script, so it
 * would be one "login" per request; the operation itself is recorded with its principal.
 * Failed and rate-limited Basic logins are recorded.
 */
export function loginAuditHook(sink: AuditSink): (event: LoginEvent) => void {
  return (event) => {
    if (event.channel === 'basic' && event.outcome === 'success') return;
    const reason = event.outcome === 'rate-limited' ? 'rate-limited' : event.reason;
    sink.record({
      principal: event.username,
      operation: 'login',
      resourceType: 'user',
      resource: event.username,
      outcome: event.outcome === 'success' ? 'success' : 'failure',
      ...(event.clientAddress !== undefined ? { clientAddress: event.clientAddress } : {}),
      detail: { channel: event.channel, ...(reason ? { reason } : {}) },
    });
  };
}
