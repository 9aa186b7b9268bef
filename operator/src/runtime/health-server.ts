/** /healthz (the process is alive), /readyz (caches synced) and /metrics on one port. */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface HealthChecks {
  /** Each check returns undefined when fine, else a short reason. */
  ready: Array<() => string | undefined>;
  metrics: Registry;
}

export async function startHealthServer(port: number, host: string, checks: HealthChecks): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    } else if (path === '/readyz') {
      const problems = checks.ready.map((check) => check()).filter((p): p is string => p !== undefined);
      res.writeHead(problems.length ? 503 : 200, { 'content-type': 'text/plain' }).end(problems.length ? problems.join('\n') : 'ok');
    } else if (path === '/metrics') {
      checks.metrics.metrics().then(
        (text) => res.writeHead(200, { 'content-type': checks.metrics.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port };
}
