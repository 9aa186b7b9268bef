/**
 * CNCF Distribution 2.8 (Debian's docker-registry) on 127.0.0.1 with filesystem storage in
 * the run's directory and a config file of its own: the reference for benchmarks and a
 * replication peer. No auth, plain HTTP.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startProcess, waitUntilReady } from '../process.ts';
import { newSecret, type RunningService, type ServiceContext } from './service.ts';

export interface DistributionInfo {
  /** Base URL, e.g. http://127.0.0.1:PORT (the API is under /v2/). */
  url: string;
  /** host:port, as registry clients name it. */
  host: string;
}

export async function startDistribution(ctx: ServiceContext, dockerRegistry: string): Promise<RunningService<DistributionInfo>> {
  const port = await ctx.ports.next();
  const storage = join(ctx.dir, 'storage');
  mkdirSync(storage, { recursive: true });
  const config = join(ctx.dir, 'config.yml');
  // JSON is YAML; no debug listener is configured, so only the API port is opened.
  writeFileSync(
    config,
    JSON.stringify(
      {
        version: 0.1,
        log: { level: 'warn', accesslog: { disabled: true } },
        storage: { filesystem: { rootdirectory: storage }, delete: { enabled: true }, cache: { blobdescriptor: 'inmemory' } },
        http: { addr: `127.0.0.1:${port}`, secret: newSecret() },
      },
      null,
      2,
    ),
  );
  const server = startProcess('docker-registry', dockerRegistry, ['serve', config], join(ctx.dir, 'registry.log'));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntilReady(server, async () => (await fetch(`${url}/v2/`)).status === 200);
  } catch (err) {
    await server.stop();
    throw err;
  }
  return { info: { url, host: `127.0.0.1:${port}` }, processes: [server], stop: () => server.stop() };
}
