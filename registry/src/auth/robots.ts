/**
 * Robot account rules, Harbor's: names `robot$<project>+<name>` (project level) or
 * `robot$<name>` (system level), and which permissions each level may hold. The management
 * API checks a robot with `robotProblems` and `accessesBeyondCreator` before storing it.
 */
import { ROBOT_NAME_PREFIX } from './identity.ts';
import { ACTIONS, PROJECT_RESOURCES, SYSTEM_RESOURCES, type RobotPermission } from './permissions.ts';

const SHORT_NAME_RE = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;

export function robotFullName(level: 'system' | 'project', shortName: string, project?: string): string {
  return level === 'project' ? `${ROBOT_NAME_PREFIX}${project ?? ''}+${shortName}` : `${ROBOT_NAME_PREFIX}${shortName}`;
}

/** Everything wrong with a robot definition; empty when it may be stored. */
export function robotProblems(robot: {
  level: 'system' | 'project';
  shortName: string;
  /** The robot's project (project level). */
  project?: string;
  permissions: readonly RobotPermission[];
  /** Days until expiry; -1 = never (Harbor's `duration`). */
  durationDays: number;
}): string[] {
  const problems: string[] = [];
  if (!SHORT_NAME_RE.test(robot.shortName) || robot.shortName.length > 255) {
    problems.push('name: lower-case letters, digits and . _ - separators only');
  }
  if (!Number.isInteger(robot.durationDays) || (robot.durationDays < 1 && robot.durationDays !== -1)) {
    problems.push('duration: a positive number of days, or -1 for never');
  }
  if (robot.level === 'project' && robot.project === undefined) problems.push('a project robot needs its project');
  if (robot.permissions.length === 0) problems.push('permissions: at least one');
  for (const [index, permission] of robot.permissions.entries()) {
    const where = `permissions[${index}]`;
    if (permission.kind === 'system') {
      if (robot.level !== 'system') problems.push(`${where}: only system robots hold system permissions`);
      if (permission.namespace !== '/') problems.push(`${where}: system permissions use namespace "/"`);
    } else if (robot.level === 'project') {
      if (permission.namespace !== robot.project) problems.push(`${where}: a project robot holds permissions in its own project only`);
    } else if (permission.namespace === '' || permission.namespace === '/') {
      problems.push(`${where}: a project name or "*"`);
    }
    if (permission.access.length === 0) problems.push(`${where}: access: at least one`);
    const resources: readonly string[] = permission.kind === 'system' ? SYSTEM_RESOURCES : PROJECT_RESOURCES;
    for (const access of permission.access) {
      if (!resources.includes(access.resource)) problems.push(`${where}: unknown ${permission.kind} resource ${access.resource}`);
      if (!(ACTIONS as readonly string[]).includes(access.action)) problems.push(`${where}: unknown action ${access.action}`);
    }
  }
  return problems;
}

/** Expiry from Harbor's `duration` in days (-1: never). */
export function robotExpiry(durationDays: number, now: Date): Date | null {
  return durationDays === -1 ? null : new Date(now.getTime() + durationDays * 86_400_000);
}
