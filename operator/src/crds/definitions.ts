/**
 * CustomResourceDefinitions built from the TypeBox schemas. `generate.ts` writes them to
 * crds/, and a test fails when the committed YAML differs from what these functions build.
 */
import type { TSchema } from '@sinclair/typebox';
import type { V1CustomResourceDefinition, V1CustomResourceColumnDefinition } from '@kubernetes/client-node';
import { toOpenApi } from './schema-kit.ts';
import { RegistrySpecSchema, RegistryStatusSchema } from './registry.ts';
import { ProjectSpecSchema, ProjectStatusSchema } from './project.ts';

export const GROUP = 'berth.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

interface KindDescription {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  description: string;
  spec: TSchema;
  status: TSchema;
  columns: V1CustomResourceColumnDefinition[];
}

const readyColumns: V1CustomResourceColumnDefinition[] = [
  { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
  { name: 'Reason', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].reason', priority: 1 },
  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
];

function definition(k: KindDescription): V1CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${k.plural}.${GROUP}`, labels: { 'app.kubernetes.io/part-of': 'berth' } },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: { kind: k.kind, listKind: `${k.kind}List`, plural: k.plural, singular: k.singular, shortNames: k.shortNames, categories: ['berth'] },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: k.columns,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: k.description,
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: toOpenApi(k.spec),
                status: toOpenApi(k.status),
              },
            } as never,
          },
        },
      ],
    },
  };
}

export function registryDefinition(): V1CustomResourceDefinition {
  return definition({
    kind: 'Registry',
    plural: 'registries',
    singular: 'registry',
    shortNames: ['breg'],
    description: 'A Berth OCI registry and everything it needs in its namespace.',
    spec: RegistrySpecSchema,
    status: RegistryStatusSchema,
    columns: [
      { name: 'Host', type: 'string', jsonPath: '.spec.host' },
      { name: 'Replicas', type: 'integer', jsonPath: '.spec.replicas' },
      ...readyColumns,
    ],
  });
}

export function projectDefinition(): V1CustomResourceDefinition {
  return definition({
    kind: 'Project',
    plural: 'projects',
    singular: 'project',
    shortNames: ['bproj'],
    description: 'A project in a Berth Registry, with members, robot accounts and pull secrets.',
    spec: ProjectSpecSchema,
    status: ProjectStatusSchema,
    columns: [
      { name: 'Registry', type: 'string', jsonPath: '.spec.registryRef.name' },
      { name: 'Public', type: 'boolean', jsonPath: '.spec.public' },
      ...readyColumns,
    ],
  });
}

/** File name in crds/ → definition. */
export function allDefinitions(): Record<string, V1CustomResourceDefinition> {
  return {
    'berth.dev_registries.yaml': registryDefinition(),
    'berth.dev_projects.yaml': projectDefinition(),
  };
}
