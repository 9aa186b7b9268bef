/** A Redis server of its own: 127.0.0.1 only, a password, no persistence, files in the run's directory. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startProcess, waitUntilReady } from '../process.ts';
import { newSecret, type RunningService, type ServiceContext } from './service.ts';

export interface RedisInfo {
  url: string;
  host: string;
  port: number;
  password: string;
}

export async function startRedis(ctx: ServiceContext, redisServer: string): Promise<RunningService<RedisInfo>> {
  const port = await ctx.ports.next();
  const password = newSecret();
  const config = join(ctx.dir, 'redis.conf');
  writeFileSync(
    config,
    [
      'bind 127.0.0.1',
      `port ${port}`,
      `requirepass ${password}`,
      'protected-mode yes',
      'daemonize no',
      'save ""',
      'appendonly no',
      `dir ${ctx.dir}`,
      'loglevel warning',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const server = startProcess('redis', redisServer, [config], join(ctx.dir, 'redis.log'));
  try {
    await waitUntilReady(server, async () => {
      const client = new Redis({ host: '127.0.0.1', port, password, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      client.on('error', () => undefined); // refused until the server listens; retried by the poll
      try {
        await client.connect();
        return (await client.ping()) === 'PONG';
      } finally {
        client.disconnect();
      }
    });
  } catch (err) {
    await server.stop();
    throw err;
  }
  return {
    info: { url: `redis://:${password}@127.0.0.1:${port}`, host: '127.0.0.1', port, password },
    processes: [server],
    stop: () => server.stop(),
  };
}
