import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { parseServiceList, serviceNames } from './environment.ts';
import { PortAllocator } from './ports.ts';

describe('test environment: choosing services', () => {
  it('starts everything when BERTH_SERVICES is unset or empty', () => {
    assert.deepEqual(parseServiceList(undefined), [...serviceNames]);
    assert.deepEqual(parseServiceList(' , '), [...serviceNames]);
  });

  it('keeps the start order whatever the order given', () => {
    assert.deepEqual(parseServiceList('redis, postgres'), ['postgres', 'redis']);
  });

  it('rejects an unknown name, listing the known ones', () => {
    assert.throws(() => parseServiceList('postgres,mysql'), /unknown mysql; known: postgres, redis, minio/);
  });
});

describe('test environment: ports', () => {
  it('hands out distinct ports that can be bound on 127.0.0.1', async () => {
    const ports = new PortAllocator();
    const chosen = await Promise.all(Array.from({ length: 20 }, () => ports.next()));
    assert.equal(new Set(chosen).size, chosen.length);
    const port = chosen[0]!;
    await new Promise<void>((resolve, reject) => {
      const server = createServer().on('error', reject);
      server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
    });
  });
});
