/**
 * The Project custom resource (berth.dev/v1alpha1): a project in a Registry of the same
 * namespace, made through the registry's management API, and the pull secrets for it.
 */
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import type { V1LabelSelector, V1ObjectMeta } from '@kubernetes/client-node';
import { cel, Conditions, ObjectName, Opaque, StringEnum } from './schema-kit.ts';

export const ProjectRoles = ['projectAdmin', 'maintainer', 'developer', 'guest', 'limitedGuest'] as const;

const Duration = Type.String({ pattern: '^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$', description: 'A Go-style duration, e.g. 720h.' });

export const ProjectSpecSchema = Type.Object(
  {
    registryRef: Type.Object({ name: ObjectName({ description: 'Name of a Registry in this namespace.' }) }),
    projectName: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 255,
        pattern: '^[a-z0-9]+(?:[._-][a-z0-9]+)*$',
        description: 'Name of the project in the registry; default: metadata.name.',
      }),
    ),
    public: Type.Boolean({ default: false, description: 'Anyone may pull without credentials.' }),
    storageQuota: Type.Optional(
      Type.String({ pattern: '^(-1|[0-9]+(Ki|Mi|Gi|Ti|Pi)?)$', description: 'e.g. 10Gi; -1 for unlimited.' }),
    ),
    members: Type.Optional(
      Type.Unsafe<Array<{ kind: 'User' | 'Group'; name: string; role: (typeof ProjectRoles)[number] }>>({
        type: 'array',
        maxItems: 256,
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['name'],
        items: Type.Object({
          kind: StringEnum(['User', 'Group'] as const, { default: 'User' }),
          name: Type.String({ minLength: 1, maxLength: 255 }),
          role: StringEnum(ProjectRoles),
        }),
      }),
    ),
    robots: Type.Optional(
      Type.Unsafe<Array<{ name: string; description?: string; durationDays: number; permissions: Array<{ resource: string; action: string }>; secretName?: string }>>({
        type: 'array',
        maxItems: 64,
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['name'],
        items: Type.Object({
          name: Type.String({ minLength: 1, maxLength: 63, pattern: '^[a-z0-9]+(?:[._-][a-z0-9]+)*$' }),
          description: Type.Optional(Type.String({ maxLength: 1024 })),
          durationDays: Type.Integer({ minimum: -1, default: -1, description: '-1: never expires.' }),
          permissions: Type.Array(
            Type.Object({
              resource: Type.String({ minLength: 1, maxLength: 64 }),
              action: Type.String({ minLength: 1, maxLength: 64 }),
            }),
            { minItems: 1, maxItems: 64 },
          ),
          secretName: Type.Optional(ObjectName({ description: 'Secret for the robot credentials; default: <project>-robot-<name>.' })),
        }),
      }),
    ),
    pullSecrets: Type.Optional(
      Type.Object(
        {
          namespaces: Type.Optional(Type.Array(ObjectName({ maxLength: 63 }), { maxItems: 1024 })),
          namespaceSelector: Type.Optional(Opaque<V1LabelSelector>()),
          secretName: Type.Optional(ObjectName({ description: 'Default: <registry>-<project>-pull.' })),
          serviceAccounts: Type.Optional(
            Type.Array(ObjectName({ maxLength: 253 }), { maxItems: 64, description: 'Also add the secret to these ServiceAccounts\' imagePullSecrets.' }),
          ),
          rotationInterval: Type.Optional(Duration),
        },
        cel({ rule: 'has(self.namespaces) || has(self.namespaceSelector)', message: 'pullSecrets needs namespaces or namespaceSelector' }),
      ),
    ),
    deletionPolicy: StringEnum(['Delete', 'Retain'] as const, {
      default: 'Delete',
      description: 'Delete: deleting this resource deletes the project. Retain: the project stays.',
    }),
  },
  cel({ rule: '!has(oldSelf.projectName) || (has(self.projectName) && self.projectName == oldSelf.projectName)', message: 'projectName is immutable' }),
);

export const ProjectStatusSchema = Type.Object({
  observedGeneration: Type.Optional(Type.Integer({ format: 'int64' })),
  conditions: Type.Optional(Conditions()),
  projectId: Type.Optional(Type.Integer()),
  pullSecretNamespaces: Type.Optional(Type.Array(Type.String())),
  pullRobotName: Type.Optional(Type.String()),
  pullSecretRotatedAt: Type.Optional(Type.String({ format: 'date-time' })),
});

export type ProjectSpec = Static<typeof ProjectSpecSchema>;
export type ProjectStatus = Static<typeof ProjectStatusSchema>;

export interface Project {
  apiVersion: 'berth.dev/v1alpha1';
  kind: 'Project';
  metadata: V1ObjectMeta;
  spec: ProjectSpec;
  status?: ProjectStatus;
}
