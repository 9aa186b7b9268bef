/**
 * Leader election over a coordination.k8s.io Lease, so several operator replicas are safe:
 * only the holder reconciles. The holder renews every retry period; a candidate takes the
 * lease over once it has not been renewed for leaseDuration. Writes use the Lease's
 * resourceVersion, so two candidates can never both win (the loser gets a 409).
 */
import { CoordinationV1Api, V1MicroTime } from '@kubernetes/client-node';
import type { KubeConfig, V1Lease } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { isConflict, isNotFound } from '../kube/cluster.ts';
import { errorSummary } from './controller.ts';

export interface LeaderElectionOptions {
  kc: KubeConfig;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds?: number;
  retryPeriodMs?: number;
  logger: Logger;
  onStartedLeading: () => void | Promise<void>;
  onStoppedLeading: () => void | Promise<void>;
}

export class LeaderElector {
  private readonly api: CoordinationV1Api;
  private timer: NodeJS.Timeout | undefined;
  private leading = false;
  private lastRenew = 0;
  private running = false;
  private observed: { record: string; at: number } | undefined;
  private readonly leaseSeconds: number;
  private readonly retryMs: number;

  constructor(private readonly options: LeaderElectionOptions) {
    this.api = options.kc.makeApiClient(CoordinationV1Api);
    this.leaseSeconds = options.leaseDurationSeconds ?? 15;
    this.retryMs = options.retryPeriodMs ?? 2000;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.running = true;
    void this.tick();
  }

  /** Stops campaigning; a leader releases the lease so another replica takes over at once. */
  async stop(options: { releaseLease?: boolean } = {}): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    if (this.leading && options.releaseLease !== false) {
      try {
        const lease = await this.read();
        if (lease?.spec?.holderIdentity === this.options.identity) {
          lease.spec.holderIdentity = undefined;
          lease.spec.leaseDurationSeconds = 1;
          await this.api.replaceNamespacedLease({ name: this.options.name, namespace: this.options.namespace, body: lease });
        }
      } catch (err) {
        this.options.logger.warn({ err: errorSummary(err) }, 'could not release the leader lease');
      }
    }
    if (this.leading) await this.setLeading(false);
  }

  private async tick(): Promise<void> {
    if (!this.running) return;
    try {
      const held = await this.tryAcquireOrRenew();
      if (held) this.lastRenew = Date.now();
      if (held && !this.leading) await this.setLeading(true);
      if (!held && this.leading) await this.setLeading(false);
    } catch (err) {
      this.options.logger.warn({ err: errorSummary(err) }, 'leader lease update failed');
      // A leader that cannot renew must stop before another replica may take over.
      if (this.leading && Date.now() - this.lastRenew > (this.leaseSeconds * 1000 * 2) / 3) await this.setLeading(false);
    }
    if (this.running) {
      this.timer = setTimeout(() => void this.tick(), this.retryMs);
      this.timer.unref?.();
    }
  }

  private async setLeading(leading: boolean): Promise<void> {
    this.leading = leading;
    this.options.logger.info({ identity: this.options.identity, lease: this.options.name }, leading ? 'became leader' : 'stopped leading');
    if (leading) await this.options.onStartedLeading();
    else await this.options.onStoppedLeading();
  }

  private async read(): Promise<V1Lease | undefined> {
    try {
      return await this.api.readNamespacedLease({ name: this.options.name, namespace: this.options.namespace });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { name, namespace, identity } = this.options;
    const now = new V1MicroTime();
    const lease = await this.read();
    try {
      if (!lease) {
        await this.api.createNamespacedLease({
          namespace,
          body: {
            metadata: { name, namespace },
            spec: { holderIdentity: identity, leaseDurationSeconds: this.leaseSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 },
          },
        });
        return true;
      }
      const spec = lease.spec ?? {};
      const holder = spec.holderIdentity;
      if (holder && holder !== identity) {
        // Expiry is judged by when this replica last saw the record change, not by the
        // holder's clock, so clock skew between nodes cannot cause two leaders.
        const record = `${holder}@${spec.renewTime ? new Date(spec.renewTime).toISOString() : ''}`;
        if (this.observed?.record !== record) this.observed = { record, at: Date.now() };
        const duration = (spec.leaseDurationSeconds ?? this.leaseSeconds) * 1000;
        if (Date.now() < this.observed.at + duration) return false;
      }
      const takingOver = holder !== identity;
      lease.spec = {
        ...spec,
        holderIdentity: identity,
        leaseDurationSeconds: this.leaseSeconds,
        renewTime: now,
        ...(takingOver ? { acquireTime: now, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 } : {}),
      };
      await this.api.replaceNamespacedLease({ name, namespace, body: lease });
      return true;
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
  }
}
