/**
 * Small TypeBox builders for Kubernetes structural schemas. The CRD YAML in crds/ and the
 * TypeScript types both come from these schemas, so they can never disagree. Plain TypeBox
 * unions and records emit anyOf/patternProperties, which a structural schema forbids; these
 * helpers emit the OpenAPI forms the API server accepts instead.
 */
import { Type } from '@sinclair/typebox';
import type { SchemaOptions, TSchema, TUnsafe } from '@sinclair/typebox';

/** One CEL rule (`x-kubernetes-validations`) checked by the API server. */
export interface CelRule {
  rule: string;
  message: string;
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

export function cel(...rules: CelRule[]): { 'x-kubernetes-validations': CelRule[] } {
  return { 'x-kubernetes-validations': rules };
}

/** A string restricted to a fixed set of values (OpenAPI `enum`, not TypeBox's anyOf). */
export function StringEnum<const T extends readonly string[]>(
  values: T,
  options: SchemaOptions = {},
): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ ...options, type: 'string', enum: [...values] });
}

/** A map of strings (labels, annotations, selectors). */
export function StringMap(options: SchemaOptions = {}): TUnsafe<Record<string, string>> {
  return Type.Unsafe<Record<string, string>>({
    ...options,
    type: 'object',
    additionalProperties: { type: 'string' },
  });
}

/**
 * A Kubernetes object we do not re-specify (resources, tolerations, label selectors):
 * the API server keeps it as given, and the TypeScript type is the client library's.
 */
export function Opaque<T>(options: SchemaOptions = {}): TUnsafe<T> {
  return Type.Unsafe<T>({ ...options, type: 'object', 'x-kubernetes-preserve-unknown-fields': true });
}

/** A list of opaque Kubernetes objects (for example tolerations). */
export function OpaqueList<T>(options: SchemaOptions = {}): TUnsafe<T[]> {
  return Type.Unsafe<T[]>({
    ...options,
    type: 'array',
    items: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
  });
}

/** A DNS-1123 name of an object in the same namespace (Secret, ServiceAccount, ...). */
export function ObjectName(options: SchemaOptions = {}) {
  return Type.String({
    minLength: 1,
    maxLength: 253,
    pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$',
    ...options,
  });
}

/** Reference to one key of a Secret in the same namespace. */
export function SecretKeyRef(defaultKey: string, description: string) {
  return Type.Object(
    {
      name: ObjectName({ description: 'Name of the Secret, in the namespace of this resource.' }),
      key: Type.String({ minLength: 1, maxLength: 253, default: defaultKey, description: 'Key in the Secret.' }),
    },
    { description },
  );
}

/** metav1.Condition, the shape kstatus, Argo CD and kubectl wait understand. */
export const ConditionSchema = Type.Object({
  type: Type.String({ minLength: 1, maxLength: 316 }),
  status: StringEnum(['True', 'False', 'Unknown'] as const),
  observedGeneration: Type.Optional(Type.Integer({ minimum: 0, format: 'int64' })),
  lastTransitionTime: Type.String({ format: 'date-time' }),
  reason: Type.String({ minLength: 1, maxLength: 1024, pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$' }),
  message: Type.String({ maxLength: 32768 }),
});

export function Conditions() {
  return Type.Unsafe<Array<import('@sinclair/typebox').Static<typeof ConditionSchema>>>({
    type: 'array',
    items: ConditionSchema,
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['type'],
    description: 'Ready, Reconciling and Degraded, in the metav1.Condition shape.',
  });
}

/** A plain JSON copy of a TypeBox schema (TypeBox marks schemas with symbols JSON ignores). */
export function toOpenApi(schema: TSchema): Record<string, unknown> {
  return dropDefaultedFromRequired(JSON.parse(JSON.stringify(schema))) as Record<string, unknown>;
}

/**
 * TypeBox lists every non-optional property as required. A property with a default need not
 * be given (the API server fills it in before validating), so it leaves `required` here while
 * the TypeScript type keeps it non-optional, as it is in every object the API server returns.
 */
function dropDefaultedFromRequired(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(dropDefaultedFromRequired);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) out[k] = k === 'default' ? v : dropDefaultedFromRequired(v);
  const props = out.properties as Record<string, { default?: unknown }> | undefined;
  if (Array.isArray(out.required) && props) {
    const required = (out.required as string[]).filter((name) => props[name]?.default === undefined);
    if (required.length > 0) out.required = required;
    else delete out.required;
  }
  return out;
}
