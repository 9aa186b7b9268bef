/**
 * A watch that keeps running: client-node's informer reports a failed watch through its
 * 'error' event and stops; this wrapper starts it again after a growing delay, and resets the
 * delay once a watch connects. Every add/update/delete is turned into a key for a queue.
 */
import { makeInformer } from '@kubernetes/client-node';
import type { Informer, KubeConfig, KubernetesListObject, KubernetesObject, ObjectCache } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { PerKeyBackoff } from './backoff.ts';
import { errorSummary } from './controller.ts';

export interface WatchOptions<T extends KubernetesObject> {
  kc: KubeConfig;
  /** API path of the collection, e.g. /apis/berth.dev/v1alpha1/registries. */
  path: string;
  list: () => Promise<KubernetesListObject<T>>;
  labelSelector?: string;
  /** Called for every add, update and delete. */
  onObject: (obj: T, verb: 'add' | 'update' | 'delete') => void;
  logger: Logger;
}

export class RestartingInformer<T extends KubernetesObject> {
  private readonly informer: Informer<T> & ObjectCache<T>;
  private readonly backoff = new PerKeyBackoff<string>({ baseMs: 250, maxMs: 30_000 });
  private stopped = false;
  private retry: NodeJS.Timeout | undefined;
  private hasSynced = false;
  /** Number of restarts after errors (for tests and logs). */
  restarts = 0;

  constructor(private readonly options: WatchOptions<T>) {
    this.informer = makeInformer(options.kc, options.path, options.list, options.labelSelector);
    for (const verb of ['add', 'update', 'delete'] as const) {
      this.informer.on(verb, (obj) => options.onObject(obj, verb));
    }
    this.informer.on('connect', () => {
      this.hasSynced = true;
      this.backoff.forget('watch');
    });
    this.informer.on('error', (err) => this.restartLater(err));
  }

  async start(): Promise<void> {
    this.stopped = false;
    try {
      await this.informer.start();
      this.hasSynced = true;
    } catch (err) {
      this.restartLater(err);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    await this.informer.stop();
  }

  /** True once the first list has completed. */
  get synced(): boolean {
    return this.hasSynced;
  }

  list(namespace?: string): readonly T[] {
    return this.informer.list(namespace);
  }

  get(name: string, namespace?: string): T | undefined {
    return this.informer.get(name, namespace);
  }

  private restartLater(err: unknown): void {
    if (this.stopped || this.retry) return;
    const delay = this.backoff.next('watch');
    this.options.logger.warn({ path: this.options.path, err: errorSummary(err), retryInMs: delay }, 'watch failed; restarting');
    this.retry = setTimeout(() => {
      this.retry = undefined;
      if (this.stopped) return;
      this.restarts++;
      this.informer.start().catch((e: unknown) => this.restartLater(e));
    }, delay);
  }
}
