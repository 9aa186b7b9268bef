/**
 * The pure decisions of Project reconciliation: Harbor role ids, member differences, quota
 * sizes, pull-secret content and when a pull robot is due for rotation.
 */
import type { ProjectSpec } from '../crds/project.ts';

/** Harbor's role ids, which the management API uses on the wire. */
export const ROLE_IDS = { projectAdmin: 1, developer: 2, guest: 3, maintainer: 4, limitedGuest: 5 } as const;
export type RoleName = keyof typeof ROLE_IDS;

export interface CurrentMember {
  id: number;
  entityName: string;
  entityType: 'u' | 'g';
  roleId: number;
}

export interface MemberChanges {
  add: Array<{ kind: 'User' | 'Group'; name: string; roleId: number }>;
  update: Array<{ id: number; name: string; roleId: number }>;
  remove: Array<{ id: number; name: string }>;
}

/**
 * What to change so the project's members are exactly the spec's. `keep` names members the
 * operator must never remove (the admin account it acts as, which the registry adds itself).
 */
export function diffMembers(current: readonly CurrentMember[], desired: ProjectSpec['members'], keep: readonly string[] = []): MemberChanges {
  const want = new Map((desired ?? []).map((m) => [`${m.kind === 'Group' ? 'g' : 'u'}:${m.name}`, m]));
  const changes: MemberChanges = { add: [], update: [], remove: [] };
  const seen = new Set<string>();
  for (const m of current) {
    const key = `${m.entityType}:${m.entityName}`;
    seen.add(key);
    const w = want.get(key);
    if (!w) {
      if (!keep.includes(m.entityName)) changes.remove.push({ id: m.id, name: m.entityName });
    } else if (ROLE_IDS[w.role] !== m.roleId) {
      changes.update.push({ id: m.id, name: m.entityName, roleId: ROLE_IDS[w.role] });
    }
  }
  for (const [key, w] of want) {
    if (!seen.has(key)) changes.add.push({ kind: w.kind, name: w.name, roleId: ROLE_IDS[w.role] });
  }
  return changes;
}

const UNITS: Record<string, number> = { '': 1, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50 };

/** "10Gi" → bytes; "-1" or unset → -1 (unlimited). */
export function quotaBytes(quota: string | undefined): number {
  if (quota === undefined || quota === '-1') return -1;
  const m = /^([0-9]+)(Ki|Mi|Gi|Ti|Pi)?$/.exec(quota);
  if (!m) throw new Error(`invalid storage quota ${quota}`);
  return Number(m[1]) * UNITS[m[2] ?? '']!;
}

/** Go-style duration ("720h", "1h30m", "90s") → milliseconds. */
export function parseDuration(text: string): number {
  const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  let rest = text;
  while (rest.length) {
    const m = /^([0-9]+(?:\.[0-9]+)?)(ns|us|ms|s|m|h)/.exec(rest);
    if (!m) throw new Error(`invalid duration ${text}`);
    total += Number(m[1]) * unit[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return total;
}

/** The .dockerconfigjson of a kubernetes.io/dockerconfigjson Secret for one registry host. */
export function dockerConfigJson(host: string, username: string, password: string): string {
  const auth = Buffer.from(`${username}:${password}`).toString('base64');
  return JSON.stringify({ auths: { [host]: { username, password, auth } } });
}

/** True when the pull robot created at createdAt must be replaced now. */
export function rotationDue(createdAt: string | undefined, interval: string | undefined, now: Date): boolean {
  if (!createdAt) return true;
  if (!interval) return false;
  return now.getTime() - Date.parse(createdAt) >= parseDuration(interval);
}

/** Name (without the robot$ prefix) of the pull robot of one generation. */
export function pullRobotName(generation: number): string {
  return `k8s-pull-${generation}`;
}

export function projectNameOf(spec: ProjectSpec, metadataName: string): string {
  return spec.projectName ?? metadataName;
}
