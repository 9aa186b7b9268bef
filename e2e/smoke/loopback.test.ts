import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { testEnv } from '../env/test-env.ts';

interface Listener {
  address: string;
  port: number;
  inode: string;
}

/** Listening TCP sockets from /proc/net/tcp{,6} (state 0A), with their addresses decoded. */
function tcpListeners(): Listener[] {
  const listeners: Listener[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(file, 'utf8').trim().split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const [local, state, inode] = [fields[1]!, fields[3]!, fields[9]!];
      if (state !== '0A') continue;
      const [hexAddress, hexPort] = local.split(':') as [string, string];
      listeners.push({ address: decodeAddress(hexAddress), port: parseInt(hexPort, 16), inode });
    }
  }
  return listeners;
}

/** /proc/net/tcp prints addresses as 32-bit words in host (little-endian) byte order. */
function decodeAddress(hex: string): string {
  const words = hex.match(/.{8}/g)!.map((word) => word.match(/../g)!.reverse().join(''));
  if (words.length === 1) return words[0]!.match(/../g)!.map((b) => parseInt(b, 16)).join('.');
  const bytes = words.join('');
  if (bytes.startsWith('00000000000000000000ffff')) {
    return `::ffff:${bytes.slice(24).match(/../g)!.map((b) => parseInt(b, 16)).join('.')}`;
  }
  return bytes.match(/.{4}/g)!.map((group) => group.replace(/^0+(?=.)/, '')).join(':');
}

function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address.startsWith('::ffff:127.') || address === '0:0:0:0:0:0:0:1';
}

/** The pids the setup started and all their descendants (pg forks, shims). */
function processTree(roots: number[]): Map<number, string> {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the parenthesised command name: state, ppid, ...
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(Number(entry), ppid);
    } catch {
      // the process exited while we looked
    }
  }
  const names = new Map(testEnv().processes.map((p) => [p.pid, p.name] as const));
  const tree = new Map<number, string>();
  for (const pid of parents.keys()) {
    for (let p: number | undefined = pid; p && p > 1; p = parents.get(p)) {
      if (roots.includes(p)) {
        tree.set(pid, names.get(p)!);
        break;
      }
    }
  }
  return tree;
}

function socketInodes(pid: number): string[] {
  try {
    return readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
      try {
        const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
        const match = /^socket:\[(\d+)\]$/.exec(target);
        return match ? [match[1]!] : [];
      } catch {
        return [];
      }
    });
  } catch {
    return [];
  }
}

describe('smoke: nothing the setup started listens beyond loopback', () => {
  it('binds every listening TCP socket of its processes to 127.0.0.1', () => {
    const env = testEnv();
    assert.ok(env.processes.length > 0, 'the setup recorded no processes');
    const tree = processTree(env.processes.map((p) => p.pid));
    const ownerOfInode = new Map<string, string>();
    for (const [pid, name] of tree) for (const inode of socketInodes(pid)) ownerOfInode.set(inode, name);

    const ours = tcpListeners().filter((l) => ownerOfInode.has(l.inode));
    const exposed = ours.filter((l) => !isLoopback(l.address));
    assert.deepEqual(
      exposed.map((l) => `${ownerOfInode.get(l.inode)} on ${l.address}:${l.port}`),
      [],
      'services listening on a non-loopback address',
    );
    // The check saw real sockets: every TCP service of this run has at least one listener.
    const tcpServices = env.processes.map((p) => p.name).filter((name) => name !== 'containerd');
    const listening = new Set(ours.map((l) => ownerOfInode.get(l.inode)));
    for (const name of tcpServices) assert.ok(listening.has(name), `found no listening socket of ${name}`);
  });
});
