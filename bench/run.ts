/**
 * `npm run bench`: Berth (embedded configuration) side by side with CNCF Distribution
 * (Debian `docker-registry`, filesystem storage) on the same machine, the same load against
 * each, alternating, several rounds; prints absolute figures and Berth ÷ Distribution ratios.
 *
 *   npm run bench -- [--rounds 5] [--warm-up 2] [--quick] [--out bench/results/latest.md]
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir, cpus, totalmem } from 'node:os';
import { join, dirname } from 'node:path';
import { startBerth } from '../e2e/lib/berth.ts';
import { startEnvironment } from '../e2e/env/environment.ts';
import { consoleProgress } from '../e2e/env/progress.ts';
import { freePort } from '../e2e/lib/net.ts';
import {
  type Target, type Timed, randomBlobs, pushMonolithic, pushChunked, pullBlob, closePullConnections, pushImage, timed, manifestRequest, bigBlob, rssMiB, withServerCpu,
} from './load.ts';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const quick = flag('quick');
const rounds = Number(option('rounds', quick ? '1' : '5'));
const warmUpRounds = Number(option('warm-up', quick ? '1' : '2'));
const out = option('out', 'bench/results/latest.md');
const BLOBS = 16;
const BLOB_SIZE = 16 * 1024 * 1024;
const BLOB_CONCURRENCY = 4;
const CHUNK = 4 * 1024 * 1024;
const MANIFEST_CONCURRENCY = 32;
const MANIFEST_REQUESTS = quick ? 4000 : 20000;
const BIG_BLOB = quick ? 256 * 1024 * 1024 : 2 * 1024 * 1024 * 1024;

async function startDistribution(dir: string): Promise<{ target: Target; pid: number; stop: () => Promise<void> }> {
  const binary = '/usr/bin/docker-registry';
  if (!existsSync(binary)) {
    throw new Error('docker-registry (CNCF Distribution) is missing: apt-get install docker-registry, or run npm test once (it installs it)');
  }
  const port = await freePort();
  const config = join(dir, 'distribution.yml');
  await writeFile(
    config,
    [
      'version: 0.1',
      'log: { level: error, accesslog: { disabled: true } }',
      'storage:',
      `  filesystem: { rootdirectory: ${join(dir, 'distribution-data')} }`,
      '  cache: { blobdescriptor: inmemory }',
      '  delete: { enabled: true }',
      `http: { addr: "127.0.0.1:${port}" }`,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(binary, ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      const res = await fetch(`${url}/v2/`);
      if (res.status === 200) break;
    } catch {
      /* starting */
    }
    if (i > 200) throw new Error(`docker-registry did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    target: { name: 'distribution', url },
    pid: child.pid!,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

/**
 * Write back every dirty page now, outside any timed part. Distribution writes through the
 * page cache without fsync and Berth writes large blobs directly; without this, the kernel
 * writes one registry's pushed data back (30 s after it was written, dirty_expire_centisecs)
 * while the other registry's scenarios run and compete with it for the disk.
 */
function settleDisk(): void {
  execFileSync('sync');
}

type Scenario = 'push monolithic' | 'push chunked' | 'pull' | 'manifest GET' | 'manifest HEAD';

async function runScenarios(target: Target, pid: number, round: string, manifestRequests = MANIFEST_REQUESTS): Promise<Record<Scenario, Timed>> {
  const prefix = `bench/${round}`;
  const measure = (run: () => Promise<Timed>) => withServerCpu(pid, run);
  const mono = randomBlobs(BLOBS, BLOB_SIZE);
  const pushMono = await measure(() => timed(BLOBS, BLOB_CONCURRENCY, (i) => pushMonolithic(target, `${prefix}/mono`, mono[i]!)));
  const chunkedBlobs = randomBlobs(BLOBS, BLOB_SIZE);
  const pushChunk = await measure(() => timed(BLOBS, BLOB_CONCURRENCY, (i) => pushChunked(target, `${prefix}/chunked`, chunkedBlobs[i]!, CHUNK)));
  const pull = await measure(() => timed(BLOBS, BLOB_CONCURRENCY, (i) => pullBlob(target, `${prefix}/mono`, mono[i]!)));
  closePullConnections();
  const mediaType = await pushImage(target, `${prefix}/image`, 'latest');
  const accept = `${mediaType}, application/vnd.docker.distribution.manifest.v2+json`;
  // warm-up, then measure
  await timed(500, MANIFEST_CONCURRENCY, () => manifestRequest(target, `${prefix}/image`, 'latest', 'GET', accept));
  const get = await measure(() => timed(manifestRequests, MANIFEST_CONCURRENCY, () => manifestRequest(target, `${prefix}/image`, 'latest', 'GET', accept)));
  const head = await measure(() => timed(manifestRequests, MANIFEST_CONCURRENCY, () => manifestRequest(target, `${prefix}/image`, 'latest', 'HEAD', accept)));
  return { 'push monolithic': pushMono, 'push chunked': pushChunk, pull, 'manifest GET': get, 'manifest HEAD': head };
}

/** One registry's figures of one round, on one line: the spread behind the medians. */
function describeRound(figures: Record<Scenario, Timed>): string {
  return (Object.entries(figures) as Array<[Scenario, Timed]>)
    .map(([s, t]) => {
      const rate = s.startsWith('manifest') ? `${t.rate.toFixed(0)} req/s` : `${((t.rate * BLOB_SIZE) / 1048576).toFixed(0)} MiB/s`;
      return `${s} ${rate} (${t.serverCpuMsPerOp?.toFixed(2) ?? '?'} ms CPU/op)`;
    })
    .join(', ');
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-bench-'));
  // Postgres, Redis and MinIO for the memory check on the production backends (the same
  // setup npm test uses; it installs what is missing).
  const services = await startEnvironment({
    services: ['postgres', 'redis', 'minio', 'distribution'],
    progress: consoleProgress('bench'),
    envFile: join(dir, 'env.json'),
  });
  process.env.BERTH_TEST_ENV = services.envFile;
  const distribution = await startDistribution(dir);
  const berth = await startBerth({ backends: 'embedded', dir: join(dir, 'berth'), logLevel: 'warn' });
  const targets: Array<{ target: Target; pid: number }> = [
    { target: distribution.target, pid: distribution.pid },
    { target: { name: 'berth', url: berth.url }, pid: berth.pid },
  ];
  const results: Record<string, Array<Record<Scenario, Timed>>> = { distribution: [], berth: [] };
  const warmUps: Record<string, Array<Record<Scenario, Timed>>> = { distribution: [], berth: [] };
  try {
    const playRound = async (order: typeof targets, heading: string, prefix: string, into: typeof results, manifestRequests?: number) => {
      for (const { target, pid } of order) {
        process.stderr.write(`${heading}: ${target.name}\n`);
        const figures = await runScenarios(target, pid, prefix, manifestRequests);
        into[target.name]!.push(figures);
        process.stderr.write(`  ${describeRound(figures)}\n`);
        settleDisk();
      }
    };
    // Untimed rounds each first (a tenth of the manifest requests each), since a registry in
    // service is warm: a freshly started Berth runs its first round at 60-75 % of its later
    // speed (JIT, heap growth, first queries), and until it has written as much as its
    // page-cache window (1 GiB: two rounds) its writes take pages this VM has to fault in,
    // where later writes reuse the pages of the blobs the window dropped (docs/benchmarks.md,
    // "Machine"). Their figures are reported, not counted.
    for (let round = 0; round < warmUpRounds; round++) {
      await playRound(targets, `warm-up ${round + 1}/${warmUpRounds}`, `warm-up${round}`, warmUps, MANIFEST_REQUESTS / 10);
    }
    for (let round = 0; round < rounds; round++) {
      // alternate which registry goes first, so neither always gets a warmer machine
      const order = round % 2 === 0 ? targets : [...targets].reverse();
      await playRound(order, `round ${round + 1}/${rounds}`, `r${round}`, results);
    }
    const big: Record<string, Awaited<ReturnType<typeof bigBlob>> & { idleRssMiB: number }> = {};
    const production = await startBerth({ backends: 'production', dir: join(dir, 'berth-production'), logLevel: 'warn' });
    try {
      const memoryTargets = [
        ...targets,
        { target: { name: 'berth (production backends)', url: production.url }, pid: production.pid },
      ];
      for (const { target, pid } of memoryTargets) {
        settleDisk();
        process.stderr.write(`${BIG_BLOB / 1048576} MiB blob in and out: ${target.name}\n`);
        const idleRssMiB = rssMiB(pid);
        big[target.name] = { idleRssMiB, ...(await bigBlob(target, pid, BIG_BLOB)) };
      }
    } finally {
      await production.stop();
    }

    const scenarios: Scenario[] = ['push monolithic', 'push chunked', 'pull', 'manifest GET', 'manifest HEAD'];
    const targetsOf: Record<Scenario, number> = { 'push monolithic': 1.5, 'push chunked': 1.5, pull: 1.2, 'manifest GET': 2.0, 'manifest HEAD': 2.0 };
    const lines: string[] = [];
    lines.push(`Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; ${new Date().toISOString()}`);
    lines.push(
      `Command: npm run bench -- ${args.join(' ')} (${warmUpRounds} untimed warm-up round${warmUpRounds === 1 ? '' : 's'} each, then ${rounds} rounds; medians of rounds)`,
    );
    lines.push('');
    lines.push('| scenario | unit | Distribution | Berth | ratio (Berth ÷ Distribution) | target | p50 ms D / B | p99 ms D / B | registry CPU ms/op D / B |');
    lines.push('|---|---|---|---|---|---|---|---|---|');
    for (const s of scenarios) {
      const d = results.distribution!.map((r) => r[s]);
      const b = results.berth!.map((r) => r[s]);
      const blobScenario = !s.startsWith('manifest');
      const unit = blobScenario ? 'MiB/s' : 'req/s';
      const scale = blobScenario ? BLOB_SIZE / 1048576 : 1;
      const dRate = median(d.map((x) => x.rate)) * scale;
      const bRate = median(b.map((x) => x.rate)) * scale;
      const ratio = bRate / dRate;
      lines.push(
        `| ${s} | ${unit} | ${dRate.toFixed(1)} | ${bRate.toFixed(1)} | ${ratio.toFixed(2)} ${ratio >= targetsOf[s] ? '✅' : '❌'} | ≥ ${targetsOf[s]} | ` +
          `${median(d.map((x) => x.p50Ms)).toFixed(1)} / ${median(b.map((x) => x.p50Ms)).toFixed(1)} | ` +
          `${median(d.map((x) => x.p99Ms)).toFixed(1)} / ${median(b.map((x) => x.p99Ms)).toFixed(1)} | ` +
          `${median(d.map((x) => x.serverCpuMsPerOp ?? NaN)).toFixed(2)} / ${median(b.map((x) => x.serverCpuMsPerOp ?? NaN)).toFixed(2)} |`,
      );
    }
    lines.push('');
    for (const name of ['distribution', 'berth']) {
      warmUps[name]!.forEach((figures, round) => lines.push(`- ${name}, warm-up ${round + 1} (not counted): ${describeRound(figures)}`));
      results[name]!.forEach((figures, round) => lines.push(`- ${name}, round ${round + 1}: ${describeRound(figures)}`));
    }
    lines.push('');
    lines.push(`| ${BIG_BLOB / 1048576} MiB blob | push MiB/s | pull MiB/s | RSS before, MiB | peak RSS, MiB | growth, MiB |`);
    lines.push('|---|---|---|---|---|---|');
    for (const name of Object.keys(big)) {
      const r = big[name]!;
      const verdict = name.startsWith('berth') ? (r.peakRssMiB < 200 ? ' ✅ < 200' : ' ❌ ≥ 200') : '';
      lines.push(
        `| ${name} | ${r.inMiBs.toFixed(1)} | ${r.outMiBs.toFixed(1)} | ${r.idleRssMiB.toFixed(0)} | ${r.peakRssMiB.toFixed(0)}${verdict} | ${(r.peakRssMiB - r.idleRssMiB).toFixed(0)} |`,
      );
    }
    const report = lines.join('\n');
    console.log(report);
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, report + '\n');
  } finally {
    closePullConnections();
    await berth.stop();
    await distribution.stop();
    await services.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();

