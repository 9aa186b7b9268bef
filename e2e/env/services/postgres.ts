/**
 * A PostgreSQL cluster of its own (initdb into the run's directory), listening only on
 * 127.0.0.1 with password auth and its socket in the run's directory. The system cluster,
 * if any, is never touched.
 */
import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { runCommand, startProcess, waitUntilReady } from '../process.ts';
import { newSecret, type RunningService, type ServiceContext } from './service.ts';

export interface PostgresInfo {
  url: string;
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

export interface PostgresPrograms {
  initdb: string;
  postgres: string;
}

export async function startPostgres(ctx: ServiceContext, programs: PostgresPrograms): Promise<RunningService<PostgresInfo>> {
  const user = 'berth';
  const password = newSecret();
  const database = 'berth';
  const port = await ctx.ports.next();
  const dataDir = join(ctx.dir, 'data');
  const socketDir = join(ctx.dir, 'run');
  const passwordFile = join(ctx.dir, 'password');
  mkdirSync(socketDir, { recursive: true });
  writeFileSync(passwordFile, password, { mode: 0o600 });

  // initdb and postgres refuse to run as root: run them as Debian's `postgres` user.
  const owner = await serverUser();
  if (owner) {
    for (const path of [ctx.dir, socketDir, passwordFile]) chownSync(path, owner.uid, owner.gid);
  }
  chmodSync(ctx.dir, 0o700);
  const asOwner = owner ? { uid: owner.uid, gid: owner.gid, env: { ...process.env, HOME: ctx.dir } } : {};

  await runCommand(
    programs.initdb,
    ['-D', dataDir, '-U', user, `--pwfile=${passwordFile}`, '--auth=scram-sha-256', '-E', 'UTF8', '--locale=C', '--no-sync'],
    asOwner,
  );
  // Durability is not needed for tests; speed is.
  const server = startProcess(
    'postgres',
    programs.postgres,
    [
      '-D', dataDir,
      '-p', String(port),
      '-c', 'listen_addresses=127.0.0.1',
      '-c', `unix_socket_directories=${socketDir}`,
      '-c', 'fsync=off',
      '-c', 'synchronous_commit=off',
      '-c', 'full_page_writes=off',
      '-c', 'max_connections=300',
    ],
    join(ctx.dir, 'postgres.log'),
    { ...asOwner, stopSignal: 'SIGINT' }, // SIGINT: fast shutdown, does not wait for clients
  );
  const connection = { host: '127.0.0.1', port, user, password };
  try {
    await waitUntilReady(server, async () => {
      const client = new pg.Client({ ...connection, database: 'postgres', connectionTimeoutMillis: 2000 });
      try {
        await client.connect();
        await client.query('SELECT 1');
        return true;
      } finally {
        await client.end().catch(() => undefined);
      }
    });
    const admin = new pg.Client({ ...connection, database: 'postgres' });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${database}`);
    } finally {
      await admin.end();
    }
  } catch (err) {
    await server.stop();
    throw err;
  }
  return {
    info: {
      url: `postgres://${user}:${password}@127.0.0.1:${port}/${database}`,
      host: '127.0.0.1',
      port,
      user,
      password,
      database,
    },
    processes: [server],
    stop: () => server.stop(),
  };
}

async function serverUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number((await runCommand('id', ['-u', 'postgres'])).stdout.trim());
    const gid = Number((await runCommand('id', ['-g', 'postgres'])).stdout.trim());
    return { uid, gid };
  } catch {
    throw new Error(
      'running as root, but there is no `postgres` user to run PostgreSQL as (initdb refuses root): ' +
        'install Debian package postgresql, which creates it',
    );
  }
}
