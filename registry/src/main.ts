/**
 * `npm start [-- --config <file>]`: load the configuration, start the registry, stop it
 * cleanly on SIGINT/SIGTERM.
 *
 * Exit codes: 0 stopped by a signal, 1 could not start (a backend unreachable, port taken),
 * 2 invalid configuration or arguments.
 */
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { CONFIG_FILE_ENV, loadConfig } from './config/load.ts';
import { redactConfig } from './config/redact.ts';
import type { BerthConfig } from './config/schema.ts';
import { ConfigError } from './config/validate.ts';
import { StartupError, createLogger, startRegistry } from './server.ts';

const USAGE = `Usage: npm start -- [--config <file.yaml>] [--check-config]

  -c, --config <file>   YAML configuration (default: $${CONFIG_FILE_ENV}, else the embedded defaults:
                        filesystem + PGlite + memory under ./.berth-data, on 127.0.0.1:5000)
      --check-config    validate, print the effective configuration (secrets redacted), exit
  -h, --help            this text

Any setting can be overridden from the environment: BERTH_<PATH>, the key path upper-cased
and joined by "_", e.g. BERTH_HTTP_PORT=5001 or BERTH_DATABASE_POSTGRES_URL=postgres://...
`;

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({
      options: {
        config: { type: 'string', short: 'c' },
        'check-config': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values;
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }

  let config: BerthConfig;
  try {
    config = loadConfig({ file: args.config, env: process.env });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    throw error;
  }
  if (args['check-config']) {
    process.stdout.write(stringify(redactConfig(config)));
    return 0;
  }

  const logger = createLogger(config.log.level);
  let registry;
  try {
    registry = await startRegistry(config, { logger });
  } catch (error) {
    if (error instanceof StartupError || error instanceof ConfigError) {
      logger.fatal({ problems: 'problems' in error ? error.problems : [] }, error.message);
      return error instanceof ConfigError ? 2 : 1;
    }
    throw error;
  }

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  logger.info({ signal }, 'signal received: stopping (send it again to exit at once)');
  // A second signal means "now": do not wait for long uploads to drain.
  const exitNow = () => process.exit(130);
  process.once('SIGINT', exitNow);
  process.once('SIGTERM', exitNow);
  await registry.close();
  return 0;
}

// Exit explicitly: a backend client left with a timer must not keep a stopped registry alive.
main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`berth: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
