/**
 * How a schema marks a secret setting: `[SECRET_KEYWORD]: 'value'` hides the whole value,
 * `'url-password'` hides the password of a URL. Redaction and error messages honour it.
 * No runtime imports: section schemas in other modules (auth/) import this without a cycle.
 */
import type { TSchema } from '@sinclair/typebox';

export const SECRET_KEYWORD = 'x-berth-secret';
export type SecretKind = 'value' | 'url-password';

/** The secret marking of a schema node, if any. */
export function secretKind(schema: TSchema): SecretKind | undefined {
  return (schema as Record<string, unknown>)[SECRET_KEYWORD] as SecretKind | undefined;
}
