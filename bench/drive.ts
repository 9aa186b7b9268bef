/**
 * The benchmark's load against registries that are already running, for profiling one of
 * them (e.g. Berth started with `node --cpu-prof`) without the full `npm run bench` setup.
 *
 *   npx tsx bench/drive.ts <name>=<url>[@<pid>] ... [--only push,chunked,pull,get,head,big] [--requests 4000] [--big-mib 2048]
 *
 * `big` (not in the default set) streams one large blob in and out, sampling the resident memory of <pid>.
 */
import { randomBlobs, pushMonolithic, pushChunked, pullBlob, closePullConnections, pushImage, timed, manifestRequest, bigBlob, rssMiB, withServerCpu, type Target, type Timed } from './load.ts';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const only = new Set(option('only', 'push,chunked,pull,get,head').split(','));
const requests = Number(option('requests', '4000'));
const targets: Array<Target & { pid?: number }> = args
  .filter((a, i) => a.includes('=') && !args[i - 1]?.startsWith('--'))
  .map((a) => {
    const [name, rest] = a.split('=') as [string, string];
    const [url, pid] = rest.split('@') as [string, string | undefined];
    return { name, url, pid: pid ? Number(pid) : undefined };
  });
if (targets.length === 0) throw new Error('usage: tsx bench/drive.ts <name>=<url> ...');

const BLOBS = 16;
const SIZE = 16 * 1024 * 1024;
async function measure(target: Target & { pid?: number }, what: string, scale: number, work: () => Promise<Timed>): Promise<void> {
  const client0 = process.cpuUsage();
  const t = target.pid === undefined ? await work() : await withServerCpu(target.pid, work);
  const client = process.cpuUsage(client0);
  const clientMs = (client.user + client.system) / 1000 / t.count;
  const perOp =
    (t.serverCpuMsPerOp === undefined ? '' : `  cpu ${((t.serverCpuMsPerOp * t.count) / 1000).toFixed(2)} s (${t.serverCpuMsPerOp.toFixed(2)} ms/op)`) +
    `  client ${clientMs.toFixed(2)} ms/op`;
  console.log(
    `${target.name.padEnd(14)} ${what.padEnd(16)} ${(t.rate * scale).toFixed(1).padStart(8)} ${scale === 1 ? 'req/s' : 'MiB/s'}  p50 ${t.p50Ms.toFixed(1)} ms  p99 ${t.p99Ms.toFixed(1)} ms${perOp}`,
  );
}

const run = Date.now().toString(36);
for (const target of targets) {
  const prefix = `drive/${run}`;
  const mono = randomBlobs(BLOBS, SIZE);
  if (only.has('push') || only.has('pull')) {
    await measure(target, 'push monolithic', 16, () => timed(BLOBS, 4, (i) => pushMonolithic(target, `${prefix}/mono`, mono[i]!)));
  }
  if (only.has('chunked')) {
    const blobs = randomBlobs(BLOBS, SIZE);
    await measure(target, 'push chunked', 16, () => timed(BLOBS, 4, (i) => pushChunked(target, `${prefix}/chunked`, blobs[i]!, 4 * 1024 * 1024)));
  }
  if (only.has('pull')) {
    await measure(target, 'pull', 16, () => timed(BLOBS, 4, (i) => pullBlob(target, `${prefix}/mono`, mono[i]!)));
    closePullConnections();
  }
  if (only.has('get') || only.has('head')) {
    const mediaType = await pushImage(target, `${prefix}/image`, 'latest');
    const accept = `${mediaType}, application/vnd.docker.distribution.manifest.v2+json`;
    await timed(500, 32, () => manifestRequest(target, `${prefix}/image`, 'latest', 'GET', accept));
    if (only.has('get')) await measure(target, 'manifest GET', 1, () => timed(requests, 32, () => manifestRequest(target, `${prefix}/image`, 'latest', 'GET', accept)));
    if (only.has('head')) await measure(target, 'manifest HEAD', 1, () => timed(requests, 32, () => manifestRequest(target, `${prefix}/image`, 'latest', 'HEAD', accept)));
  }
  if (only.has('big') && target.pid !== undefined) {
    const idle = rssMiB(target.pid);
    const big = await bigBlob(target, target.pid, Number(option('big-mib', '2048')) * 1024 * 1024);
    console.log(
      `${target.name.padEnd(14)} big blob         in ${big.inMiBs.toFixed(1)} MiB/s  out ${big.outMiBs.toFixed(1)} MiB/s  RSS before ${idle.toFixed(0)} MiB, peak ${big.peakRssMiB.toFixed(0)} MiB`,
    );
  }
}
