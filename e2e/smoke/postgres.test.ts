import assert from 'node:assert/strict';
import pg from 'pg';
import { testEnv } from '../env/test-env.ts';

describe('smoke: PostgreSQL of this run', () => {
  it('round-trips a row through a real server on loopback', async () => {
    const { url, host, port } = testEnv().postgres;
    assert.equal(host, '127.0.0.1');
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query('CREATE TEMP TABLE smoke (id int PRIMARY KEY, note text)');
      await client.query('INSERT INTO smoke VALUES ($1, $2)', [1, 'berth']);
      const { rows } = await client.query<{ note: string }>('SELECT note FROM smoke WHERE id = $1', [1]);
      assert.deepEqual(rows, [{ note: 'berth' }]);
      const server = await client.query<{ port: string; listen: string }>(
        "SELECT current_setting('port') AS port, current_setting('listen_addresses') AS listen",
      );
      assert.deepEqual(server.rows[0], { port: String(port), listen: '127.0.0.1' });
    } finally {
      await client.end();
    }
  });

  it('is a cluster of its own, with its data in this run\'s directory', async () => {
    const client = new pg.Client({ connectionString: testEnv().postgres.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ data: string; socket: string }>(
        "SELECT current_setting('data_directory') AS data, current_setting('unix_socket_directories') AS socket",
      );
      assert.ok(rows[0]!.data.startsWith(`${testEnv().workDir}/`), `data directory ${rows[0]!.data}`);
      assert.ok(rows[0]!.socket.startsWith(`${testEnv().workDir}/`), `socket directory ${rows[0]!.socket}`);
    } finally {
      await client.end();
    }
  });

  it('refuses a wrong password', async () => {
    const { host, port, user, database } = testEnv().postgres;
    const client = new pg.Client({ host, port, user, database, password: 'wrong' });
    await assert.rejects(client.connect(), /password authentication failed/);
  });
});
