/**
 * The node-trust writer: runs on every node (DaemonSet) and makes the container runtimes
 * trust the registry CA:
 *   <root>/etc/containerd/certs.d/<host[:port]>/hosts.toml + ca.crt
 *   <root>/etc/docker/certs.d/<host[:port]>/ca.crt
 *   <root>/etc/containers/certs.d/<host[:port]>/ca.crt      (CRI-O, podman, skopeo)
 * Every file is written to a temporary name in the same directory and renamed into place,
 * so a runtime never reads half a file. A marker file records the owner; files a writer
 * owns but no longer wants (host renamed, target turned off, mode 'remove') are deleted.
 */
import { mkdir, readdir, readFile, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { NodeTrustConfig } from '../registry/render.ts';
import { RUNTIME_DIRS } from '../registry/render.ts';

export const MARKER = '.berth-node-trust';

export interface PlannedFile {
  /** Path relative to the host root, e.g. etc/containerd/certs.d/r.example.com/ca.crt. */
  path: string;
  content: string;
}

/** containerd's hosts.toml: the CA path is relative, resolved against the host directory. */
export function hostsToml(config: NodeTrustConfig): string {
  return [
    `# Written by the Berth node-trust writer for ${config.owner.split('/').slice(0, 2).join('/')}. Do not edit.`,
    `server = "${config.serverURL}"`,
    '',
    `[host."${config.serverURL}"]`,
    '  capabilities = ["pull", "resolve", "push"]',
    '  ca = "ca.crt"',
    '',
  ].join('\n');
}

/** The files this node should hold for config (none in remove mode). */
export function planFiles(config: NodeTrustConfig): PlannedFile[] {
  if (config.mode === 'remove' || !config.caBundle.trim()) return [];
  const files: PlannedFile[] = [];
  const ca = config.caBundle.endsWith('\n') ? config.caBundle : `${config.caBundle}\n`;
  for (const target of ['containerd', 'docker', 'containers'] as const) {
    if (!config.targets[target]) continue;
    const dir = `${RUNTIME_DIRS[target].slice(1)}/${config.hostPort}`;
    if (target === 'containerd') files.push({ path: `${dir}/hosts.toml`, content: hostsToml(config) });
    files.push({ path: `${dir}/ca.crt`, content: ca });
    files.push({ path: `${dir}/${MARKER}`, content: `${config.owner}\n` });
  }
  return files;
}

async function readOrUndefined(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Writes content to path atomically: temporary file in the same directory, then rename. */
export async function writeAtomically(path: string, content: string): Promise<void> {
  const dir = path.slice(0, path.lastIndexOf('/'));
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const tmp = join(dir, `.${path.slice(dir.length + 1)}.tmp-${randomBytes(6).toString('hex')}`);
  try {
    await writeFile(tmp, content, { mode: 0o644 });
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

export interface SyncResult {
  written: string[];
  removed: string[];
}

/** Brings the files under hostRoot in line with config. Idempotent. */
export async function syncNodeTrust(hostRoot: string, config: NodeTrustConfig): Promise<SyncResult> {
  const plan = planFiles(config);
  const wanted = new Set(plan.map((f) => f.path));
  const result: SyncResult = { written: [], removed: [] };
  // Content first, marker last: a marker only ever points at complete files.
  const ordered = [...plan.filter((f) => !f.path.endsWith(MARKER)), ...plan.filter((f) => f.path.endsWith(MARKER))];
  for (const file of ordered) {
    const abs = join(hostRoot, file.path);
    if ((await readOrUndefined(abs)) === file.content) continue;
    await writeAtomically(abs, file.content);
    result.written.push(file.path);
  }
  // Remove directories this owner wrote that the plan no longer has.
  for (const runtimeDir of Object.values(RUNTIME_DIRS)) {
    const base = join(hostRoot, runtimeDir);
    let entries: string[];
    try {
      entries = await readdir(base);
    } catch {
      continue;
    }
    for (const entry of entries) {
      const rel = `${runtimeDir.slice(1)}/${entry}`;
      const marker = await readOrUndefined(join(base, entry, MARKER));
      if (marker?.trim() !== config.owner || wanted.has(`${rel}/${MARKER}`)) continue;
      for (const name of ['hosts.toml', 'ca.crt', MARKER]) {
        await rm(join(base, entry, name), { force: true });
        result.removed.push(`${rel}/${name}`);
      }
      // Only an empty directory goes: files someone else put there stay.
      await rmdir(join(base, entry)).catch(() => undefined);
    }
  }
  return result;
}
