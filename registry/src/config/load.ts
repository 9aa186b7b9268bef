/**
 * Loading the configuration: a YAML file (optional), then environment overrides, then
 * validation. Every problem from all three stages is reported in one ConfigError.
 *
 * Environment overrides: BERTH_<PATH>, where PATH is the key path upper-cased and joined
 * with "_": BERTH_HTTP_PORT=5001, BERTH_DATABASE_DRIVER=postgres,
 * BERTH_STORAGE_S3_SECRETKEY=... Values are coerced to the schema's type (numbers,
 * true/false, comma-separated lists). An empty value counts as unset. BERTH_ variables
 * whose first part is not a configuration section (BERTH_CONFIG, BERTH_TEST_ENV...) are
 * not overrides.
 */
import { readFileSync } from 'node:fs';
import type { TSchema } from '@sinclair/typebox';
import { parseDocument } from 'yaml';
import { BerthConfigSchema } from './schema.ts';
import type { BerthConfig, ConfigProblem } from './schema.ts';
import { ConfigError, validateConfig } from './validate.ts';

export const ENV_PREFIX = 'BERTH_';
/** The variable naming the configuration file when `--config` is not given. */
export const CONFIG_FILE_ENV = 'BERTH_CONFIG';

export interface LoadConfigOptions {
  /** YAML file; defaults to env.BERTH_CONFIG; neither → every default. */
  file?: string;
  env: Readonly<Record<string, string | undefined>>;
}

export function loadConfig(options: LoadConfigOptions): BerthConfig {
  const file = options.file ?? (options.env[CONFIG_FILE_ENV] || undefined);
  const problems: ConfigProblem[] = [];
  const raw = file === undefined ? {} : readYaml(file, problems);
  const sources = applyEnvironmentOverrides(raw, options.env, problems);
  return validateConfig(raw, {
    sources,
    sourceName: file ?? 'defaults and environment',
    earlierProblems: problems,
  });
}

function readYaml(file: string, problems: ConfigProblem[]): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError([
      { path: '', message: `cannot read configuration file ${file}: ${code === 'ENOENT' ? 'no such file' : code}` },
    ]);
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  for (const error of [...doc.errors, ...doc.warnings]) {
    // Only the first line ("... at line 3, column 5:"): the next ones quote the source,
    // which may hold a secret.
    problems.push({ path: '', message: `YAML: ${error.message.split('\n')[0]?.replace(/:$/, '')}` });
  }
  if (doc.errors.length > 0) return {};
  const value: unknown = doc.toJS();
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    problems.push({ path: '', message: 'expected a mapping of sections (http, storage, ...) at the top level' });
    return {};
  }
  return value as Record<string, unknown>;
}

interface Setting {
  path: string[];
  envName: string;
  schema: TSchema;
}

/** Every leaf setting of the schema with its environment variable name. */
export function environmentSettings(schema: TSchema = BerthConfigSchema, path: string[] = []): Setting[] {
  const properties = (schema as { properties?: Record<string, TSchema> }).properties;
  if (schema.type === 'object' && properties) {
    return Object.entries(properties).flatMap(([key, child]) => environmentSettings(child, [...path, key]));
  }
  return [{ path, envName: envName(path), schema }];
}

function envName(path: string[]): string {
  return ENV_PREFIX + path.map((p) => p.toUpperCase()).join('_');
}

/**
 * Write the BERTH_ overrides into `raw` (in place). Returns dotted path → variable name, so
 * problems on an overridden setting say which variable to fix.
 */
export function applyEnvironmentOverrides(
  raw: Record<string, unknown>,
  env: Readonly<Record<string, string | undefined>>,
  problems: ConfigProblem[],
): Map<string, string> {
  const settings = environmentSettings();
  const byName = new Map(settings.map((s) => [s.envName, s]));
  const sections = new Set(Object.keys(BerthConfigSchema.properties).map((k) => k.toUpperCase()));
  const sources = new Map<string, string>();

  for (const name of Object.keys(env).sort()) {
    const text = env[name];
    if (!name.startsWith(ENV_PREFIX) || text === undefined || text === '') continue;
    const setting = byName.get(name);
    if (!setting) {
      const section = name.slice(ENV_PREFIX.length).split('_')[0] ?? '';
      if (sections.has(section)) problems.push({ path: name, message: unknownVariable(name, settings) });
      continue;
    }
    let target = raw;
    const walked: string[] = [];
    for (const key of setting.path.slice(0, -1)) {
      walked.push(key);
      const next = target[key];
      if (next === undefined || next === null) {
        target = target[key] = {};
      } else if (typeof next === 'object' && !Array.isArray(next)) {
        target = next as Record<string, unknown>;
      } else {
        problems.push({ path: name, message: `cannot apply: ${walked.join('.')} in the file is not a mapping` });
        target = {};
      }
    }
    target[setting.path.at(-1) as string] = coerce(text, setting.schema);
    sources.set(setting.path.join('.'), name);
  }
  return sources;
}

/**
 * Numbers and booleans from text, lists from comma-separated text; anything that does not
 * parse stays text, and validation names it.
 */
function coerce(text: string, schema: TSchema): unknown {
  const trimmed = text.trim();
  if (schema.type === 'array') {
    const items = (schema as { items?: TSchema }).items;
    const parts = trimmed.split(',').map((part) => part.trim()).filter((part) => part !== '');
    return items ? parts.map((part) => coerce(part, items)) : parts;
  }
  if (schema.type === 'integer' && /^[-+]?\d+$/.test(trimmed)) return Number(trimmed);
  if (schema.type === 'number' && trimmed !== '' && Number.isFinite(Number(trimmed))) return Number(trimmed);
  if (schema.type === 'boolean') {
    if (/^(true|yes|on|1)$/i.test(trimmed)) return true;
    if (/^(false|no|off|0)$/i.test(trimmed)) return false;
  }
  return text;
}

function unknownVariable(name: string, settings: Setting[]): string {
  const squashed = name.replace(/_/g, '');
  const exact = settings.find((s) => s.envName.replace(/_/g, '') === squashed);
  if (exact) return `no such setting: did you mean ${exact.envName}?`;
  // Suggest the variables that share the longest prefix of parts.
  const parts = name.split('_');
  let best: Setting[] = [];
  for (let n = parts.length - 1; n >= 2 && best.length === 0; n--) {
    const prefix = parts.slice(0, n).join('_') + '_';
    best = settings.filter((s) => s.envName.startsWith(prefix));
  }
  return `no such setting (known: ${best.map((s) => s.envName).join(', ')})`;
}
