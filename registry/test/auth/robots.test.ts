import { expect } from 'chai';
import { robotExpiry, robotFullName, robotProblems } from '../../src/auth/robots.ts';

describe('auth/robots: robot account rules', () => {
  it('names robots as Harbor does', () => {
    expect(robotFullName('project', 'ci', 'team')).to.equal('robot$team+ci');
    expect(robotFullName('system', 'mirror')).to.equal('robot$mirror');
  });

  it('accepts a well-formed project robot and system robot', () => {
    expect(
      robotProblems({
        level: 'project',
        shortName: 'ci-builder',
        project: 'team',
        durationDays: 30,
        permissions: [{ kind: 'project', namespace: 'team', access: [{ resource: 'repository', action: 'pull' }, { resource: 'repository', action: 'push' }] }],
      }),
    ).to.deep.equal([]);
    expect(
      robotProblems({
        level: 'system',
        shortName: 'mirror',
        durationDays: -1,
        permissions: [
          { kind: 'project', namespace: '*', access: [{ resource: 'repository', action: 'pull' }] },
          { kind: 'system', namespace: '/', access: [{ resource: 'catalog', action: 'read' }] },
        ],
      }),
    ).to.deep.equal([]);
  });

  it('lists every problem', () => {
    const problems = robotProblems({
      level: 'project',
      shortName: 'Bad Name',
      project: 'team',
      durationDays: 0,
      permissions: [
        { kind: 'project', namespace: 'other', access: [{ resource: 'repository', action: 'pull' }] },
        { kind: 'system', namespace: '/', access: [{ resource: 'user', action: 'create' }] },
        { kind: 'project', namespace: 'team', access: [{ resource: 'nonsense', action: 'fly' }] },
        { kind: 'project', namespace: 'team', access: [] },
      ],
    });
    expect(problems).to.deep.equal([
      'name: lower-case letters, digits and . _ - separators only',
      'duration: a positive number of days, or -1 for never',
      'permissions[0]: a project robot holds permissions in its own project only',
      'permissions[1]: only system robots hold system permissions',
      'permissions[2]: unknown project resource nonsense',
      'permissions[2]: unknown action fly',
      'permissions[3]: access: at least one',
    ]);
    expect(robotProblems({ level: 'project', shortName: 'x', durationDays: 1, permissions: [] })).to.deep.equal([
      'a project robot needs its project',
      'permissions: at least one',
    ]);
  });

  it('computes expiry from a duration in days', () => {
    const now = new Date(Date.UTC(2026, 10, 23));
    expect(robotExpiry(-1, now)).to.equal(null);
    expect(robotExpiry(30, now)?.toISOString()).to.equal('2026-12-23T00:00:00.000Z');
  });
});
