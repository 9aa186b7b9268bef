/** Serves a registry app on a random loopback port for the HTTP suites. */
import { createServer, type Server } from 'node:http';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { createRegistryApp, defaultRegistryOptions, type RegistryDeps } from '../../src/app.ts';

export interface Listening {
  url: string;
  close(): Promise<void>;
}

export function quietLogger(): Logger {
  return pino({ level: process.env.BERTH_TEST_LOG_LEVEL ?? 'silent' });
}

export async function listen(deps: Omit<RegistryDeps, 'options' | 'logger'> & { options?: Partial<RegistryDeps['options']>; logger?: Logger }): Promise<Listening> {
  const app = createRegistryApp({ ...deps, logger: deps.logger ?? quietLogger(), options: { ...defaultRegistryOptions, ...deps.options } });
  const server: Server = createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('server has no address');
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
