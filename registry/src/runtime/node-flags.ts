/**
 * The `node` flags the registry runs with, wherever it runs: `npm start` (package.json,
 * checked equal by registry/test/server/main.test.ts), the tests and the benchmark
 * (e2e/lib/berth.ts), and the operator's Deployment (as NODE_OPTIONS).
 *
 * - `--max-semi-space-size=4`: a young generation of at most 2 × 4 MiB instead of V8's
 *   2 × 16 MiB; request bodies arrive as 64 KiB buffers that die young, and the larger young
 *   generation mostly kept their malloc memory (and V8's pages) resident after load.
 * - `--expose-gc`: the registry collects the young generation after every few MiB of request
 *   bodies, and everything once idle after a burst (runtime/memory.ts).
 */
export const REGISTRY_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4', '--expose-gc'];
