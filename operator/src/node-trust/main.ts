/**
 * `berth-operator node-trust --config <trust.json> --host-root /host [--interval 10]`:
 * syncs the node's runtime trust files whenever the mounted config changes (the kubelet
 * refreshes ConfigMap volumes), and marks itself ready once the node matches it.
 * `berth-operator node-trust --probe` is the readiness probe.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import type { NodeTrustConfig } from '../registry/render.ts';
import { syncNodeTrust } from './writer.ts';

export const READY_FILE = '/run/berth/node-trust-ready';

export async function runNodeTrust(argv: string[], logger: Logger, signal: AbortSignal): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      'host-root': { type: 'string', default: '/host' },
      interval: { type: 'string', default: '10' },
      'ready-file': { type: 'string', default: READY_FILE },
      probe: { type: 'boolean' },
      once: { type: 'boolean' },
    },
  });
  const readyFile = values['ready-file']!;
  if (values.probe) {
    try {
      await readFile(readyFile);
      return 0;
    } catch {
      return 1;
    }
  }
  if (!values.config) throw new Error('node-trust needs --config <trust.json>');
  const intervalMs = Number(values.interval) * 1000;
  let applied = '';
  while (!signal.aborted) {
    try {
      const text = await readFile(values.config, 'utf8');
      if (text !== applied) {
        await rm(readyFile, { force: true });
        const config = JSON.parse(text) as NodeTrustConfig;
        const result = await syncNodeTrust(values['host-root']!, config);
        logger.info({ mode: config.mode, host: config.hostPort, ...result }, 'node trust synced');
        applied = text;
        await writeFile(readyFile, `${new Date().toISOString()}\n`);
      }
    } catch (err) {
      logger.error({ err: (err as Error).message }, 'node trust sync failed');
    }
    if (values.once) break;
    await new Promise((resolve) => {
      const t = setTimeout(resolve, intervalMs);
      signal.addEventListener('abort', () => (clearTimeout(t), resolve(undefined)), { once: true });
    });
  }
  return 0;
}
