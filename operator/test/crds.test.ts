import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { Value } from '@sinclair/typebox/value';
import { crdDirectories, renderedCrdFiles } from '../src/crds/generate.ts';
import { allDefinitions } from '../src/crds/definitions.ts';
import { RegistrySpecSchema } from '../src/crds/registry.ts';

/** Walks a schema, calling visit on every node with its JSON path. */
function walk(node: unknown, path: string, visit: (n: Record<string, unknown>, path: string) => void): void {
  if (node === null || typeof node !== 'object') return;
  const n = node as Record<string, unknown>;
  visit(n, path);
  for (const [k, v] of Object.entries(n.properties ?? {})) walk(v, `${path}.${k}`, visit);
  if (n.items) walk(n.items, `${path}[]`, visit);
  if (n.additionalProperties && typeof n.additionalProperties === 'object') walk(n.additionalProperties, `${path}{}`, visit);
}

function openApi(file: string): Record<string, any> {
  return allDefinitions()[file]!.spec.versions[0]!.schema!.openAPIV3Schema as Record<string, any>;
}

describe('CRDs generated from the TypeBox schemas', () => {
  for (const dir of crdDirectories) {
    const label = dir.endsWith(join('charts', 'berth-operator', 'crds')) ? 'charts/berth-operator/crds' : 'crds';
    it(`committed YAML in ${label}/ matches the schemas (else run operator/src/crds/generate.ts)`, () => {
      for (const [file, text] of Object.entries(renderedCrdFiles())) {
        const committed = readFileSync(join(dir, file), 'utf8');
        assert.equal(committed, text, `${label}/${file} drifted from the TypeBox schema`);
      }
    });
  }

  it('are structural: every node has a type, no anyOf/oneOf/const/patternProperties', () => {
    for (const [file, crd] of Object.entries(allDefinitions())) {
      walk(openApi(file), crd.metadata!.name!, (n, path) => {
        assert.ok(n.type !== undefined || n['x-kubernetes-int-or-string'], `${path} has no type`);
        for (const forbidden of ['anyOf', 'oneOf', 'allOf', 'const', 'patternProperties', '$id']) {
          assert.ok(!(forbidden in n), `${path} uses ${forbidden}`);
        }
      });
    }
  });

  it('do not require fields that have defaults, and keep real requirements', () => {
    const spec = openApi('berth.dev_registries.yaml').properties.spec;
    assert.deepEqual(spec.required, ['host']);
    assert.equal(spec.properties.replicas.default, 1);
    assert.deepEqual(openApi('berth.dev_projects.yaml').properties.spec.required, ['registryRef']);
  });

  it('carry the CEL rule refusing replicas > 1 on embedded backends', () => {
    const crd = parse(renderedCrdFiles()['berth.dev_registries.yaml']!);
    const rules = crd.spec.versions[0].schema.openAPIV3Schema.properties.spec['x-kubernetes-validations'];
    assert.match(rules.map((r: { rule: string }) => r.rule).join('\n'), /self\.replicas <= 1/);
  });

  it('default a minimal Registry spec to one replica on embedded backends', () => {
    const spec = Value.Default(RegistrySpecSchema, { host: 'registry.example.com' }) as Record<string, unknown>;
    assert.equal(spec.port, 443);
    assert.equal(spec.replicas, 1);
    assert.deepEqual(spec.storage, {});
    assert.deepEqual(spec.nodeTrust, { enabled: false, containerd: true, docker: true, containers: false });
  });
});
