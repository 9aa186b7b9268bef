/** The operator's Prometheus metrics, on a registry of its own (no global default registry). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class OperatorMetrics {
  readonly registry = new Registry();
  private readonly reconcileTotal: Counter<'kind' | 'result'>;
  private readonly reconcileSeconds: Histogram<'kind'>;
  private readonly depth: Gauge<'kind'>;
  private readonly leader: Gauge;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'berth_operator_' });
    this.reconcileTotal = new Counter({
      name: 'berth_operator_reconcile_total',
      help: 'Reconciles by kind and result.',
      labelNames: ['kind', 'result'],
      registers: [this.registry],
    });
    this.reconcileSeconds = new Histogram({
      name: 'berth_operator_reconcile_duration_seconds',
      help: 'Time spent in one reconcile.',
      labelNames: ['kind'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [this.registry],
    });
    this.depth = new Gauge({
      name: 'berth_operator_workqueue_depth',
      help: 'Keys waiting in the work queue.',
      labelNames: ['kind'],
      registers: [this.registry],
    });
    this.leader = new Gauge({
      name: 'berth_operator_leader',
      help: '1 when this replica holds the leader lease.',
      registers: [this.registry],
    });
  }

  reconciled(kind: string, result: 'success' | 'error', startedNs: bigint): void {
    this.reconcileTotal.inc({ kind, result });
    this.reconcileSeconds.observe({ kind }, Number(process.hrtime.bigint() - startedNs) / 1e9);
  }

  queueDepth(kind: string, n: number): void {
    this.depth.set({ kind }, n);
  }

  setLeader(isLeader: boolean): void {
    this.leader.set(isLeader ? 1 : 0);
  }
}
