/**
 * Runs a reconciler over the keys of a work queue with a few workers: success forgets the
 * key's backoff (and requeues after requeueAfterMs when asked), failure retries with backoff.
 */
import type { Logger } from 'pino';
import type { WorkQueue } from './work-queue.ts';
import type { OperatorMetrics } from './metrics.ts';

export interface ReconcileResult {
  /** Reconcile again after this long even if nothing changes (e.g. waiting for a rollout). */
  requeueAfterMs?: number;
}

export interface Reconciler {
  /** Kind of the resources reconciled, for logs and metrics. */
  readonly kind: string;
  reconcile(key: string): Promise<ReconcileResult | void>;
}

export class Controller {
  private workers: Promise<void>[] = [];

  constructor(
    private readonly reconciler: Reconciler,
    readonly queue: WorkQueue<string>,
    private readonly logger: Logger,
    private readonly metrics?: OperatorMetrics,
    private readonly workerCount = 2,
  ) {}

  start(): void {
    for (let i = 0; i < this.workerCount; i++) this.workers.push(this.work());
  }

  /** Stops taking keys and waits for reconciles in progress to finish. */
  async stop(): Promise<void> {
    this.queue.shutDown();
    await Promise.all(this.workers);
    this.workers = [];
  }

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      const kind = this.reconciler.kind;
      const started = process.hrtime.bigint();
      try {
        const result = await this.reconciler.reconcile(key);
        this.queue.forget(key);
        if (result?.requeueAfterMs) this.queue.addAfter(key, result.requeueAfterMs);
        this.metrics?.reconciled(kind, 'success', started);
      } catch (err) {
        const delay = this.queue.addRateLimited(key);
        this.metrics?.reconciled(kind, 'error', started);
        this.logger.warn({ kind, key, err: errorSummary(err), retryInMs: delay }, 'reconcile failed');
      } finally {
        this.queue.done(key);
        this.metrics?.queueDepth(kind, this.queue.length);
      }
    }
  }
}

/** An error as a short loggable object, without request bodies that might hold secrets. */
export function errorSummary(err: unknown): { message: string; code?: number } {
  if (err && typeof err === 'object') {
    const e = err as { message?: unknown; code?: unknown; body?: unknown };
    let message = typeof e.message === 'string' ? e.message : String(err);
    const body = e.body as { message?: unknown } | string | undefined;
    if (body && typeof body === 'object' && typeof body.message === 'string') message = body.message;
    return { message: message.slice(0, 500), ...(typeof e.code === 'number' ? { code: e.code } : {}) };
  }
  return { message: String(err) };
}
