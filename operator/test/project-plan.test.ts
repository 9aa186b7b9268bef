import assert from 'node:assert/strict';
import { diffMembers, dockerConfigJson, parseDuration, quotaBytes, rotationDue, ROLE_IDS } from '../src/project/plan.ts';
import { selectorString, withProjectDefaults } from '../src/project/reconciler.ts';

describe('Project planning (pure)', () => {
  it('diffs members into additions, role changes and removals, never removing the operator\'s admin', () => {
    const changes = diffMembers(
      [
        { id: 1, entityName: 'admin', entityType: 'u', roleId: 1 },
        { id: 2, entityName: 'alice', entityType: 'u', roleId: ROLE_IDS.guest },
        { id: 3, entityName: 'mallory', entityType: 'u', roleId: ROLE_IDS.projectAdmin },
        { id: 4, entityName: 'devs', entityType: 'g', roleId: ROLE_IDS.developer },
      ],
      [
        { kind: 'User', name: 'alice', role: 'projectAdmin' },
        { kind: 'User', name: 'bob', role: 'developer' },
        { kind: 'Group', name: 'devs', role: 'developer' },
      ],
      ['admin'],
    );
    assert.deepEqual(changes.add, [{ kind: 'User', name: 'bob', roleId: 2 }]);
    assert.deepEqual(changes.update, [{ id: 2, name: 'alice', roleId: 1 }]);
    assert.deepEqual(changes.remove, [{ id: 3, name: 'mallory' }], 'a member added behind the operator\'s back is removed');
  });

  it('uses Harbor\'s role ids', () => {
    assert.deepEqual(ROLE_IDS, { projectAdmin: 1, developer: 2, guest: 3, maintainer: 4, limitedGuest: 5 });
  });

  it('converts quotas and durations', () => {
    assert.equal(quotaBytes('10Gi'), 10 * 2 ** 30);
    assert.equal(quotaBytes('512'), 512);
    assert.equal(quotaBytes(undefined), -1);
    assert.equal(quotaBytes('-1'), -1);
    assert.throws(() => quotaBytes('10GB'));
    assert.equal(parseDuration('720h'), 720 * 3600_000);
    assert.equal(parseDuration('1h30m'), 5400_000);
    assert.equal(parseDuration('1.5s'), 1500);
    assert.throws(() => parseDuration('10 days'));
  });

  it('writes a dockerconfigjson for the registry host', () => {
    const config = JSON.parse(dockerConfigJson('registry.example.com:8443', 'robot$p+k8s-pull-1', 's3cret'));
    const entry = config.auths['registry.example.com:8443'];
    assert.equal(entry.username, 'robot$p+k8s-pull-1');
    assert.equal(entry.password, 's3cret');
    assert.equal(Buffer.from(entry.auth, 'base64').toString(), 'robot$p+k8s-pull-1:s3cret');
  });

  it('decides when a pull robot is due for rotation', () => {
    const now = new Date('2026-02-01T00:00:00Z');
    assert.equal(rotationDue(undefined, '720h', now), true, 'no robot yet');
    assert.equal(rotationDue('2026-01-31T00:00:00Z', '720h', now), false);
    assert.equal(rotationDue('2026-01-01T00:00:00Z', '720h', now), true);
    assert.equal(rotationDue('2020-01-01T00:00:00Z', undefined, now), false, 'no interval: never');
  });

  it('turns a label selector into the API selector syntax', () => {
    assert.equal(
      selectorString({ matchLabels: { team: 'a' }, matchExpressions: [{ key: 'env', operator: 'In', values: ['dev', 'prod'] }, { key: 'skip', operator: 'DoesNotExist' }] }),
      'team=a,env in (dev,prod),!skip',
    );
  });

  it('defaults a Project to private with deletion of the project', () => {
    const p = withProjectDefaults({ apiVersion: 'berth.dev/v1alpha1', kind: 'Project', metadata: { name: 'p' }, spec: { registryRef: { name: 'r' } } as never });
    assert.equal(p.spec.public, false);
    assert.equal(p.spec.deletionPolicy, 'Delete');
  });
});
