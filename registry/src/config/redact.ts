/**
 * A copy of the configuration safe to log: values the schema marks secret are replaced,
 * URL passwords are replaced and the rest of the URL kept (useful when debugging).
 */
import type { TSchema } from '@sinclair/typebox';
import { BerthConfigSchema, secretKind } from './schema.ts';
import type { BerthConfig } from './schema.ts';

export const REDACTED = '[redacted]';

export function redactConfig(config: BerthConfig): BerthConfig {
  return redact(BerthConfigSchema, config) as BerthConfig;
}

function redact(schema: TSchema, value: unknown): unknown {
  if (value === undefined) return value;
  const kind = secretKind(schema);
  if (kind === 'value') return REDACTED;
  if (kind === 'url-password') return redactUrlPassword(String(value));
  const properties = (schema as { properties?: Record<string, TSchema> }).properties;
  if (properties && value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) {
      const childSchema = properties[key];
      // Keys unknown to the schema cannot be classified: hide them.
      out[key] = childSchema ? redact(childSchema, child) : REDACTED;
    }
    return out;
  }
  return value;
}

export function redactUrlPassword(text: string): string {
  try {
    const url = new URL(text);
    if (url.password) url.password = 'redacted';
    return url.toString();
  } catch {
    return REDACTED;
  }
}
