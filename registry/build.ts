/**
 * `npm run build`: the registry as plain JavaScript, `dist/registry/main.mjs` and the chunks
 * it imports beside it (esbuild; npm packages stay external and load from node_modules), with
 * the SQL migrations beside them. `npm start` runs it with plain `node`: no TypeScript loader
 * in the process, which keeps about 85 MiB of resident memory out of the registry (tsx's
 * loader thread and source maps: measured 234 → 149 MiB after start on the embedded backends).
 *
 * Written to a temporary directory and renamed into place, so a registry starting meanwhile
 * never loads half a build.
 */
import { build } from 'esbuild';
import { cp, mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
export const REGISTRY_BUNDLE = join(root, 'dist', 'registry', 'main.mjs');

/** The `node` flags the registry runs with (npm start, tests, bench, the operator's Deployment). */
export { REGISTRY_NODE_FLAGS } from './src/runtime/node-flags.ts';

export async function buildRegistry(): Promise<string> {
  const target = dirname(REGISTRY_BUNDLE);
  const staging = `${target}.tmp-${process.pid}-${Date.now()}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  try {
    await build({
      entryPoints: [join(root, 'registry', 'src', 'main.ts')],
      outdir: staging,
      entryNames: 'main',
      // The production backends' modules (and their npm packages: minio, pg, ioredis) are
      // imported only when configured (server.ts); split into chunks beside main.mjs so an
      // embedded registry never loads them (~12 MiB of heap).
      splitting: true,
      chunkNames: '[name]-[hash]',
      outExtension: { '.js': '.mjs' },
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      sourcemap: 'linked',
      logLevel: 'warning',
    });
    // loadMigrations() reads ./migrations/ next to the module.
    await cp(join(root, 'registry', 'src', 'metadata', 'migrations'), join(staging, 'migrations'), { recursive: true });
    const old = `${target}.old-${process.pid}-${Date.now()}`;
    await rename(target, old).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    await rename(staging, target);
    await rm(old, { recursive: true, force: true });
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    throw err;
  }
  return REGISTRY_BUNDLE;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  await buildRegistry();
}
