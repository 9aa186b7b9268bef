/**
 * Micro-benchmark of the two SHA-256/512 hashers the upload path can use:
 * Node's crypto (OpenSSL, state cannot be saved) and hash-wasm (state can be saved/loaded,
 * which lets a chunked upload's running digest travel between requests and replicas).
 *
 *   npx tsx bench/hashers.ts [MiB]
 */
import { createHash, randomBytes } from 'node:crypto';
import { createSHA256, createSHA512 } from 'hash-wasm';

const mib = Number(process.argv[2] ?? 256);
const chunk = randomBytes(1024 * 1024);

function rate(label: string, start: bigint): void {
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(`${label.padEnd(28)} ${(mib / seconds).toFixed(0).padStart(6)} MiB/s`);
}

for (const algorithm of ['sha256', 'sha512'] as const) {
  let start = process.hrtime.bigint();
  const node = createHash(algorithm);
  for (let i = 0; i < mib; i++) node.update(chunk);
  node.digest('hex');
  rate(`node:crypto ${algorithm}`, start);

  const wasm = algorithm === 'sha256' ? await createSHA256() : await createSHA512();
  start = process.hrtime.bigint();
  wasm.init();
  for (let i = 0; i < mib; i++) wasm.update(chunk);
  wasm.digest('hex');
  rate(`hash-wasm ${algorithm}`, start);

  // Save and load per 1 MiB, as a chunked upload with 1 MiB chunks would.
  start = process.hrtime.bigint();
  wasm.init();
  for (let i = 0; i < mib; i++) {
    wasm.update(chunk);
    wasm.load(wasm.save());
  }
  wasm.digest('hex');
  rate(`hash-wasm ${algorithm} save+load`, start);
}
