import { createServer } from 'node:net';

/**
 * Hands out free TCP ports on 127.0.0.1, as the kernel picks them. A port is never handed
 * out twice by one allocator, so services started together cannot collide.
 */
export class PortAllocator {
  private readonly taken = new Set<number>();

  async next(): Promise<number> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const port = await kernelPickedPort();
      if (port > 0 && !this.taken.has(port)) {
        this.taken.add(port);
        return port;
      }
    }
    throw new Error('could not find a free port on 127.0.0.1');
  }
}

function kernelPickedPort(): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const address = server.address();
      const chosen = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(chosen));
    });
  });
}
