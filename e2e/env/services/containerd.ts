/**
 * A containerd daemon of its own (runs as root): root, state and socket in the run's
 * directory, no CRI plugin, no TCP listener. Talk to it with `ctr --address <socket>`.
 * The overlayfs snapshotter is used when overlay mounts work here, else `native`.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand, startProcess, waitUntilReady } from '../process.ts';
import type { RunningService, ServiceContext } from './service.ts';

export interface ContainerdInfo {
  /** The daemon's gRPC socket: `ctr --address <address>`. */
  address: string;
  /** Snapshotter to pass to `ctr pull --snapshotter` (or CONTAINERD_SNAPSHOTTER). */
  snapshotter: 'overlayfs' | 'native';
  /** Namespace for tests (ctr -n); any name works, this one keeps runs apart from defaults. */
  namespace: string;
}

export interface ContainerdPrograms {
  containerd: string;
  ctr: string;
}

export async function startContainerd(ctx: ServiceContext, programs: ContainerdPrograms): Promise<RunningService<ContainerdInfo>> {
  if (process.getuid?.() !== 0) {
    throw new Error('containerd runs as root in the test environment: run the tests as root (as CI does)');
  }
  const root = join(ctx.dir, 'root');
  const state = join(ctx.dir, 'state');
  mkdirSync(root, { recursive: true });
  mkdirSync(state, { recursive: true });
  const address = join(ctx.dir, 'containerd.sock');
  const snapshotter = (await overlayWorks(ctx.dir)) ? 'overlayfs' : 'native';
  const config = join(ctx.dir, 'config.toml');
  writeFileSync(
    config,
    [
      'version = 2',
      `root = ${JSON.stringify(root)}`,
      `state = ${JSON.stringify(state)}`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = ${JSON.stringify(address)}`,
      '  tcp_address = ""',
      '[ttrpc]',
      `  address = ${JSON.stringify(`${address}.ttrpc`)}`,
      '[debug]',
      '  address = ""',
      '  level = "warn"',
      '[metrics]',
      '  address = ""',
      '[plugins."io.containerd.internal.v1.opt"]',
      `  path = ${JSON.stringify(join(ctx.dir, 'opt'))}`,
      '',
    ].join('\n'),
  );
  const daemon = startProcess('containerd', programs.containerd, ['--config', config], join(ctx.dir, 'containerd.log'));
  try {
    await waitUntilReady(daemon, async () => {
      await runCommand(programs.ctr, ['--address', address, 'version'], { timeoutMs: 5000 });
      return true;
    });
  } catch (err) {
    await daemon.stop();
    throw err;
  }
  return {
    info: { address, snapshotter, namespace: 'berth-test' },
    processes: [daemon],
    stop: () => daemon.stop(),
  };
}

/** Overlay inside another overlay (some container file systems) fails; native always works. */
async function overlayWorks(dir: string): Promise<boolean> {
  const probe = mkdtempSync(join(dir, 'overlay-probe-'));
  const [lower, upper, work, merged] = ['lower', 'upper', 'work', 'merged'].map((d) => join(probe, d));
  for (const d of [lower, upper, work, merged]) mkdirSync(d!);
  try {
    await runCommand('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work}`, merged!]);
    await runCommand('umount', [merged!]);
    return true;
  } catch {
    return false;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}
