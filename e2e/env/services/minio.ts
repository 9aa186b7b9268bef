/** A MinIO server of its own: 127.0.0.1 only (API and console), root credentials of its own, one bucket. */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'minio';
import { startProcess, waitUntilReady } from '../process.ts';
import { newSecret, type RunningService, type ServiceContext } from './service.ts';

export interface MinioInfo {
  endPoint: string;
  port: number;
  useSSL: false;
  accessKey: string;
  secretKey: string;
  bucket: string;
}

export async function startMinio(ctx: ServiceContext, minio: string): Promise<RunningService<MinioInfo>> {
  const port = await ctx.ports.next();
  const consolePort = await ctx.ports.next();
  const accessKey = `berth-${newSecret(4)}`;
  const secretKey = newSecret();
  const bucket = 'berth';
  const dataDir = join(ctx.dir, 'data');
  mkdirSync(dataDir, { recursive: true });
  const server = startProcess(
    'minio',
    minio,
    ['server', dataDir, '--address', `127.0.0.1:${port}`, '--console-address', `127.0.0.1:${consolePort}`, '--quiet'],
    join(ctx.dir, 'minio.log'),
    {
      env: {
        ...process.env,
        MINIO_ROOT_USER: accessKey,
        MINIO_ROOT_PASSWORD: secretKey,
        MINIO_BROWSER: 'off',
        MINIO_UPDATE: 'off',
        // Its own config and certs directory, never ~/.minio.
        MINIO_CONFIG_DIR: join(ctx.dir, 'config'),
        HOME: ctx.dir,
      },
    },
  );
  try {
    await waitUntilReady(server, async () => {
      const response = await fetch(`http://127.0.0.1:${port}/minio/health/ready`);
      return response.ok;
    });
    const client = new Client({ endPoint: '127.0.0.1', port, useSSL: false, accessKey, secretKey });
    await client.makeBucket(bucket);
  } catch (err) {
    await server.stop();
    throw err;
  }
  return {
    info: { endPoint: '127.0.0.1', port, useSSL: false, accessKey, secretKey, bucket },
    processes: [server],
    stop: () => server.stop(),
  };
}
