import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { Redis } from 'ioredis';
import { testEnv } from '../env/test-env.ts';

describe('smoke: Redis of this run', () => {
  it('SETs and GETs a key on a real server', async () => {
    const { host, port, password } = testEnv().redis;
    const client = new Redis({ host, port, password, lazyConnect: true, maxRetriesPerRequest: 1 });
    await client.connect();
    try {
      await client.set('berth:smoke', 'ok', 'EX', 60);
      assert.equal(await client.get('berth:smoke'), 'ok');
      assert.equal(await client.config('GET', 'bind').then((r) => (r as string[])[1]), '127.0.0.1');
      // A server of its own: its directory is in this run's, and it persists nothing.
      const dir = await client.config('GET', 'dir').then((r) => (r as string[])[1]!);
      assert.ok(dir.startsWith(`${testEnv().workDir}/`), `redis dir ${dir}`);
      assert.equal(await client.config('GET', 'save').then((r) => (r as string[])[1]), '');
    } finally {
      client.disconnect();
    }
  });

  it('requires the password', async () => {
    const { host, port } = testEnv().redis;
    // A raw RESP command over TCP: the server must answer NOAUTH without a password.
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = connect({ host, port }, () => socket.write('PING\r\n'));
      socket.setTimeout(5000, () => reject(new Error('no reply from redis')));
      socket.on('error', reject);
      socket.once('data', (data) => {
        resolve(data.toString('utf8'));
        socket.destroy();
      });
    });
    assert.match(reply, /^-NOAUTH/);
  });
});
