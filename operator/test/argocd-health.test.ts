/**
 * The Argo CD health checks in examples/kubernetes/argocd run in a real Lua VM against
 * Registry and Project objects in each state the operator reports.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { LuaFactory } from 'wasmoon';

const cm = parse(readFileSync('examples/kubernetes/argocd/argocd-cm.yaml', 'utf8')) as { data: Record<string, string> };

async function health(kind: 'Registry' | 'Project', obj: unknown): Promise<{ status: string; message: string }> {
  const lua = await new LuaFactory().createEngine();
  try {
    // Argo CD hands the object to the script as the global table obj.
    lua.global.set('obj', obj);
    const script = cm.data[`resource.customizations.health.berth.dev_${kind}`]!;
    const result = (await lua.doString(script)) as { status: string; message: string };
    return { status: result.status, message: result.message };
  } finally {
    lua.global.close();
  }
}

const cond = (type: string, status: string, message = `${type} ${status}`) => ({ type, status, message, reason: 'R', lastTransitionTime: '2026-01-01T00:00:00Z' });

describe('Argo CD health checks (examples/kubernetes/argocd)', () => {
  for (const kind of ['Registry', 'Project'] as const) {
    it(`${kind}: Progressing without status or with an old observedGeneration, Healthy on Ready, Degraded on Degraded`, async () => {
      assert.equal((await health(kind, { metadata: { generation: 1 } })).status, 'Progressing');
      assert.equal(
        (await health(kind, { metadata: { generation: 3 }, status: { observedGeneration: 2, conditions: [cond('Ready', 'True')] } })).status,
        'Progressing',
        'a Ready from an older generation is not trusted',
      );
      const healthy = await health(kind, { metadata: { generation: 2 }, status: { observedGeneration: 2, conditions: [cond('Ready', 'True', '1/1 replicas available'), cond('Degraded', 'False')] } });
      assert.deepEqual(healthy, { status: 'Healthy', message: '1/1 replicas available' });
      const waiting = await health(kind, { metadata: { generation: 2 }, status: { observedGeneration: 2, conditions: [cond('Ready', 'False', 'rolling out')] } });
      assert.deepEqual(waiting, { status: 'Progressing', message: 'rolling out' });
      const degraded = await health(kind, {
        metadata: { generation: 2 },
        status: { observedGeneration: 2, conditions: [cond('Ready', 'False'), cond('Degraded', 'True', 'Secret x does not exist')] },
      });
      assert.deepEqual(degraded, { status: 'Degraded', message: 'Secret x does not exist' });
    });
  }
});
