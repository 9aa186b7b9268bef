/**
 * `berth-operator [run]`: the operator (in-cluster configuration, or KUBECONFIG).
 * `berth-operator node-trust ...`: the node-trust writer run by the DaemonSet.
 *
 * Environment: POD_NAME (leader identity), POD_NAMESPACE (Lease namespace),
 * BERTH_OPERATOR_IMAGE (image for node-trust writers), BERTH_LEASE_NAME, BERTH_LEASE_DURATION_SECONDS,
 * HEALTH_PORT (default 8081),
 * LOG_LEVEL (default info).
 */
import { hostname } from 'node:os';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { Operator } from './operator.ts';
import { runNodeTrust } from './node-trust/main.ts';

async function main(argv: string[]): Promise<number> {
  const logger = pino({ level: process.env.LOG_LEVEL ?? 'info', base: { component: 'berth-operator' } });
  const stop = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stop.abort());
  const [command = 'run', ...rest] = argv;
  if (command === 'node-trust') return runNodeTrust(rest, logger.child({ component: 'node-trust' }), stop.signal);
  if (command !== 'run') {
    process.stderr.write(`unknown command ${command}; use run or node-trust\n`);
    return 2;
  }
  const kc = new KubeConfig();
  kc.loadFromDefault();
  const operator = new Operator({
    kc,
    logger,
    identity: process.env.POD_NAME ?? hostname(),
    leaseNamespace: process.env.POD_NAMESPACE ?? 'berth-system',
    leaseName: process.env.BERTH_LEASE_NAME ?? 'berth-operator',
    leaseDurationSeconds: Number(process.env.BERTH_LEASE_DURATION_SECONDS ?? 15),
    operatorImage: process.env.BERTH_OPERATOR_IMAGE ?? 'ghcr.io/berth-dev/berth-operator:0.1.0',
    healthPort: Number(process.env.HEALTH_PORT ?? 8081),
  });
  await operator.start();
  logger.info({ identity: process.env.POD_NAME ?? hostname() }, 'operator started');
  await new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => resolve(), { once: true }));
  await operator.stop();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
