import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TSchema } from '@sinclair/typebox';
import { loadConfig } from '../../src/config/load.ts';
import { REDACTED, redactConfig } from '../../src/config/redact.ts';
import { BerthConfigSchema } from '../../src/config/schema.ts';
import { ConfigError, defaultConfig, validateConfig } from '../../src/config/validate.ts';

const examples = fileURLToPath(new URL('../../../examples/', import.meta.url));

/** The ConfigError thrown by `work`, failing the test when nothing is thrown. */
function configError(work: () => unknown): ConfigError {
  try {
    work();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  assert.fail('expected a ConfigError');
}

function problemsOf(error: ConfigError): Record<string, string> {
  return Object.fromEntries(error.problems.map((p) => [p.path, p.message]));
}

describe('registry configuration', () => {
  let dir: string;
  const write = (name: string, text: string) => {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'berth-config-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  describe('defaults', () => {
    it('are the embedded configuration on 127.0.0.1:5000 with data under ./.berth-data', () => {
      const config = loadConfig({ env: {} });
      const { auth, ...rest } = config;
      assert.equal(auth.enabled, false);
      assert.deepEqual(rest, {
        http: { address: '127.0.0.1', port: 5000 },
        storage: { driver: 'filesystem', filesystem: { rootDirectory: './.berth-data/blobs', directIO: true, pageCacheMiB: 1024 } },
        database: { driver: 'pglite', pglite: { dataDirectory: './.berth-data/metadata' } },
        cache: { driver: 'memory', memory: { maxEntries: 100000 } },
        limits: { maxManifestBytes: 4194304, uploadSessionTtlSeconds: 86400 },
        log: { level: 'info' },
      });
      assert.deepEqual(defaultConfig(), config);
    });

    it('fill what a partial file leaves out, and treat an empty section as absent', () => {
      const file = write('partial.yaml', 'http:\n  port: 6000\nstorage:\n  filesystem:\n    rootDirectory: /srv/blobs\nlog:\n');
      const config = loadConfig({ file, env: {} });
      assert.equal(config.http.port, 6000);
      assert.equal(config.http.address, '127.0.0.1');
      assert.equal(config.storage.driver, 'filesystem');
      assert.equal(config.storage.filesystem.rootDirectory, '/srv/blobs');
      assert.equal(config.log.level, 'info');
    });

    it('fill the optional parts of a driver section', () => {
      const config = validateConfig({
        storage: { driver: 's3', s3: { endPoint: 'minio', accessKey: 'a', secretKey: 's', bucket: 'b' } },
        database: { driver: 'postgres', postgres: { url: 'postgres://u:p@h/db' } },
        cache: { driver: 'redis', redis: { url: 'redis://h:6379' } },
      });
      assert.deepEqual(config.storage.s3, {
        endPoint: 'minio',
        accessKey: 'a',
        secretKey: 's',
        bucket: 'b',
        useSSL: true,
        region: 'us-east-1',
        prefix: '',
      });
      assert.equal(config.database.postgres?.poolSize, 10);
      assert.equal(config.cache.redis?.keyPrefix, 'berth:');
    });

    it('do not modify the object passed in', () => {
      const raw = { http: { port: 1234 } };
      validateConfig(raw);
      assert.deepEqual(raw, { http: { port: 1234 } });
    });
  });

  describe('examples/', () => {
    it('registry-embedded.yaml is valid and equal to the defaults', () => {
      const config = loadConfig({ file: join(examples, 'registry-embedded.yaml'), env: {} });
      assert.deepEqual(config, defaultConfig());
    });

    it('registry-production.yaml is valid and uses Postgres, Redis and S3', () => {
      const config = loadConfig({ file: join(examples, 'registry-production.yaml'), env: {} });
      assert.equal(config.storage.driver, 's3');
      assert.equal(config.storage.s3?.bucket, 'berth');
      assert.equal(config.storage.s3?.useSSL, false);
      assert.equal(config.database.driver, 'postgres');
      assert.match(config.database.postgres?.url ?? '', /^postgres:\/\//);
      assert.equal(config.cache.driver, 'redis');
      assert.equal(config.http.address, '0.0.0.0');
      assert.equal(config.http.externalURL, 'https://registry.example.com');
    });

    it('BERTH_CONFIG names the file when none is given', () => {
      const config = loadConfig({ env: { BERTH_CONFIG: join(examples, 'registry-production.yaml') } });
      assert.equal(config.database.driver, 'postgres');
    });
  });

  describe('environment overrides', () => {
    it('override the file and are coerced to the schema types', () => {
      const file = write('c.yaml', 'http:\n  port: 5000\nstorage:\n  driver: s3\n  s3:\n    endPoint: minio\n    bucket: b\n');
      const config = loadConfig({
        file,
        env: {
          BERTH_HTTP_PORT: '5001',
          BERTH_HTTP_EXTERNALURL: 'https://r.example.com',
          BERTH_STORAGE_S3_ACCESSKEY: 'access',
          BERTH_STORAGE_S3_SECRETKEY: 'secret',
          BERTH_STORAGE_S3_USESSL: 'false',
          BERTH_STORAGE_S3_PORT: '9000',
          BERTH_DATABASE_DRIVER: 'postgres',
          BERTH_DATABASE_POSTGRES_URL: 'postgres://u:p@db:5432/berth',
          BERTH_DATABASE_POSTGRES_POOLSIZE: ' 20 ',
          BERTH_LOG_LEVEL: 'debug',
        },
      });
      assert.equal(config.http.port, 5001);
      assert.equal(config.http.externalURL, 'https://r.example.com');
      assert.equal(config.storage.s3?.accessKey, 'access');
      assert.equal(config.storage.s3?.secretKey, 'secret');
      assert.equal(config.storage.s3?.useSSL, false);
      assert.equal(config.storage.s3?.port, 9000);
      assert.equal(config.storage.s3?.endPoint, 'minio');
      assert.equal(config.database.driver, 'postgres');
      assert.equal(config.database.postgres?.url, 'postgres://u:p@db:5432/berth');
      assert.equal(config.database.postgres?.poolSize, 20);
      assert.equal(config.log.level, 'debug');
    });

    it('accept yes/no/on/off/1/0 for booleans', () => {
      const s3 = { BERTH_STORAGE_S3_ENDPOINT: 'm', BERTH_STORAGE_S3_ACCESSKEY: 'a', BERTH_STORAGE_S3_SECRETKEY: 's' };
      const env = { ...s3, BERTH_STORAGE_DRIVER: 's3', BERTH_STORAGE_S3_BUCKET: 'b' };
      for (const [text, expected] of [['yes', true], ['ON', true], ['1', true], ['no', false], ['off', false], ['0', false]] as const) {
        assert.equal(loadConfig({ env: { ...env, BERTH_STORAGE_S3_USESSL: text } }).storage.s3?.useSSL, expected, text);
      }
    });

    it('treat an empty value as unset and ignore BERTH_ variables that are not settings', () => {
      const config = loadConfig({ env: { BERTH_HTTP_PORT: '', BERTH_TEST_ENV: '/tmp/x.json', BERTH_SERVICES: 'redis' } });
      assert.equal(config.http.port, 5000);
    });

    it('reach the auth section: lists from comma-separated text, its rules across sections', () => {
      const config = loadConfig({
        env: {
          BERTH_AUTH_ENABLED: 'true',
          BERTH_HTTP_EXTERNALURL: 'https://r.example.com',
          BERTH_AUTH_VERIFICATIONKEYFILES: '/keys/a.jwks, /keys/b.pem,',
          BERTH_AUTH_ADMIN_PASSWORD: 'auth-hunter2-long',
        },
      });
      assert.equal(config.auth.enabled, true);
      assert.deepEqual(config.auth.verificationKeyFiles, ['/keys/a.jwks', '/keys/b.pem']);
      assert.ok(!JSON.stringify(redactConfig(config)).includes('hunter2'));

      const error = configError(() => loadConfig({ env: { BERTH_AUTH_ENABLED: 'yes' } }));
      assert.match(problemsOf(error)['http.externalURL'] ?? '', /^required when auth\.enabled/);
    });

    it('report a value that does not coerce, naming the variable', () => {
      const error = configError(() => loadConfig({ env: { BERTH_HTTP_PORT: 'five', BERTH_STORAGE_S3_USESSL: 'maybe' } }));
      const problems = problemsOf(error);
      assert.equal(problems['http.port'], 'expected a whole number (got "five") (set by BERTH_HTTP_PORT)');
      assert.equal(problems['storage.s3.useSSL'], 'expected true or false (got "maybe") (set by BERTH_STORAGE_S3_USESSL)');
    });

    it('report an unknown variable in a configuration section, with a suggestion', () => {
      const error = configError(() =>
        loadConfig({ env: { BERTH_STORAGE_S3_SECRET_KEY: 'x', BERTH_HTTP_PROT: '1' } }),
      );
      const problems = problemsOf(error);
      assert.equal(problems['BERTH_STORAGE_S3_SECRET_KEY'], 'no such setting: did you mean BERTH_STORAGE_S3_SECRETKEY?');
      assert.match(problems['BERTH_HTTP_PROT'] ?? '', /no such setting \(known: BERTH_HTTP_ADDRESS, BERTH_HTTP_PORT, /);
      assert.ok(!error.message.includes('=x'));
    });
  });

  describe('problems', () => {
    it('are all listed at once, with the path, what is wrong and what is expected', () => {
      const file = write(
        'bad.yaml',
        [
          'http:',
          '  port: 70000',
          '  adress: 0.0.0.0',
          'storage:',
          '  driver: gcs',
          'database:',
          '  postgres:',
          '    poolSize: many',
          'cache:',
          '  memory: 12',
          'limits:',
          '  maxManifestBytes: 10',
          'log:',
          '  level: loud',
          'extra: true',
        ].join('\n'),
      );
      const error = configError(() => loadConfig({ file, env: {} }));
      assert.deepEqual(problemsOf(error), {
        'http.port': 'must be at most 65535 (got 70000)',
        'http.adress': 'unknown key (expected one of: address, port, externalURL, tls)',
        'storage.driver': 'expected one of: filesystem, s3 (got "gcs")',
        'database.postgres.poolSize': 'expected a whole number (got "many")',
        'cache.memory': 'expected a mapping of keys to values (got 12)',
        'limits.maxManifestBytes': 'must be at least 1024 (got 10)',
        'log.level': 'expected one of: fatal, error, warn, info, debug, trace (got "loud")',
        extra: 'unknown key (expected one of: http, storage, database, cache, limits, log, auth)',
      });
      assert.match(error.message, /^Invalid configuration \(.*bad\.yaml\): 8 problems\n {2}- /);
      assert.ok(error.message.includes('  - storage.driver: expected one of: filesystem, s3 (got "gcs")'));
    });

    it('include every rule that spans fields', () => {
      const error = configError(() =>
        validateConfig({
          storage: { driver: 's3', s3: { endPoint: 'https://minio:9000' } },
          database: { driver: 'postgres' },
          cache: { driver: 'redis', redis: { url: 'http://cache:6379' } },
          http: { externalURL: 'registry.example.com' },
        }),
      );
      assert.deepEqual(problemsOf(error), {
        'storage.s3.accessKey': 'required when storage.driver is s3',
        'storage.s3.secretKey': 'required when storage.driver is s3',
        'storage.s3.bucket': 'required when storage.driver is s3',
        'storage.s3.endPoint':
          'expected a host name without scheme, port or path (set storage.s3.port and storage.s3.useSSL instead)',
        'database.postgres.url': 'required when database.driver is postgres',
        'cache.redis.url': 'scheme http not supported (expected redis: or rediss://...)',
        'http.externalURL': 'not a valid URL (expected http://...)',
      });
    });

    it('come from the schema and from the rules across fields in one list', () => {
      const error = configError(() =>
        validateConfig({
          http: { port: 'x', tls: { certFile: 7, keyFile: join(dir, 'missing.key') } },
          storage: { driver: 's3', s3: { bucket: 5 } },
          cache: { driver: 'redis' },
        }),
      );
      assert.deepEqual(problemsOf(error), {
        'http.port': 'expected a whole number (got "x")',
        'http.tls.certFile': 'expected a string (got 7)',
        'storage.s3.bucket': 'expected a string (got 5)',
        'storage.s3.endPoint': 'required when storage.driver is s3',
        'storage.s3.accessKey': 'required when storage.driver is s3',
        'storage.s3.secretKey': 'required when storage.driver is s3',
        'cache.redis.url': 'required when cache.driver is redis',
      });
    });

    it('name a missing s3 section field by field when the driver is s3', () => {
      const error = configError(() => loadConfig({ env: { BERTH_STORAGE_DRIVER: 's3' } }));
      assert.deepEqual(
        error.problems.map((p) => p.path),
        ['storage.s3.endPoint', 'storage.s3.accessKey', 'storage.s3.secretKey', 'storage.s3.bucket'],
      );
    });

    it('do not require a driver section the selected driver does not use', () => {
      const config = validateConfig({ storage: { driver: 'filesystem', s3: { bucket: 'later' } } });
      assert.equal(config.storage.s3?.bucket, 'later');
    });

    it('reject unknown keys at every level', () => {
      const error = configError(() =>
        validateConfig({
          auth: { realm: 'x', admin: { email: 'x' } },
          http: { tls: { certFile: '/a', keyFile: '/b', caFile: '/c' } },
          storage: { filesystem: { root: '/x' }, s3: { secret: 'x' } },
          database: { pglite: { dir: 'x' }, postgres: { host: 'x' } },
          cache: { memory: { size: 1 }, redis: { db: 1 } },
          limits: { maxBlobBytes: 1 },
          log: { format: 'json' },
        }),
      );
      const paths = error.problems.map((p) => p.path).sort();
      assert.deepEqual(paths, [
        'auth.admin.email',
        'auth.realm',
        'cache.memory.size',
        'cache.redis.db',
        'database.pglite.dir',
        'database.postgres.host',
        'http.tls.caFile',
        'limits.maxBlobBytes',
        'log.format',
        'storage.filesystem.root',
        'storage.s3.secret',
      ]);
      for (const problem of error.problems) assert.match(problem.message, /^unknown key \(expected one of: /);
    });

    it('load in any module order (no import cycle between config/ and the auth section)', function () {
      this.timeout(60_000);
      // A fresh process, auth/config.ts first: a cycle would leave AuthSchema uninitialised.
      const script = [
        `await import(${JSON.stringify(fileURLToPath(new URL('../../src/auth/config.ts', import.meta.url)))});`,
        `const { BerthConfigSchema } = await import(${JSON.stringify(fileURLToPath(new URL('../../src/config/schema.ts', import.meta.url)))});`,
        'console.log(Object.keys(BerthConfigSchema.properties).join(","));',
      ].join('\n');
      const output = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        encoding: 'utf8',
        cwd: fileURLToPath(new URL('../../../', import.meta.url)),
      });
      assert.equal(output.trim(), 'http,storage,database,cache,limits,log,auth');
    });

    it('every object in the published JSON Schema forbids additional properties', () => {
      const objects: string[] = [];
      const visit = (schema: TSchema, path: string) => {
        if (schema.type !== 'object') return;
        objects.push(path);
        assert.equal(schema.additionalProperties, false, `${path || '(root)'} allows unknown keys`);
        for (const [key, child] of Object.entries(schema.properties as Record<string, TSchema>)) visit(child, `${path}.${key}`);
      };
      visit(JSON.parse(JSON.stringify(BerthConfigSchema)) as TSchema, '');
      assert.ok(objects.length >= 14, `only ${objects.length} objects found`);
    });

    it('report YAML syntax errors with their position, and a file that is not a mapping', () => {
      const broken = write('broken.yaml', 'http:\n  port: 5000\n   address: [\n');
      const syntax = configError(() => loadConfig({ file: broken, env: {} }));
      assert.match(syntax.problems[0]?.message ?? '', /^YAML: .+ at line \d+, column \d+$/);

      const list = write('list.yaml', '- http\n- storage\n');
      const notMapping = configError(() => loadConfig({ file: list, env: {} }));
      assert.match(notMapping.problems[0]?.message ?? '', /expected a mapping of sections/);

      const duplicate = write('dup.yaml', 'http:\n  port: 1\n  port: 2\n');
      assert.match(configError(() => loadConfig({ file: duplicate, env: {} })).message, /YAML: Map keys must be unique at line 3, column 3/);
    });

    it('report a configuration file that does not exist', () => {
      const error = configError(() => loadConfig({ file: join(dir, 'nope.yaml'), env: {} }));
      assert.match(error.message, /cannot read configuration file .*nope\.yaml: no such file/);
    });
  });

  describe('TLS', () => {
    const makeCertificate = (name: string) => {
      const key = join(dir, `${name}.key`);
      const cert = join(dir, `${name}.crt`);
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${name}`], { stdio: 'ignore' });
      return { certFile: cert, keyFile: key };
    };

    it('accepts a readable certificate and matching key', () => {
      const tls = makeCertificate('a');
      assert.deepEqual(validateConfig({ http: { tls } }).http.tls, tls);
    });

    it('names each missing file', () => {
      const error = configError(() => validateConfig({ http: { tls: { certFile: join(dir, 'x.crt'), keyFile: join(dir, 'x.key') } } }));
      assert.deepEqual(problemsOf(error), {
        'http.tls.certFile': `file ${join(dir, 'x.crt')} does not exist`,
        'http.tls.keyFile': `file ${join(dir, 'x.key')} does not exist`,
      });
    });

    it('requires both files, and refuses a key that does not match the certificate', () => {
      assert.deepEqual(problemsOf(configError(() => validateConfig({ http: { tls: { certFile: '/etc/hostname' } } }))), {
        'http.tls.keyFile': 'required',
      });
      const a = makeCertificate('a');
      const b = makeCertificate('b');
      const error = configError(() => validateConfig({ http: { tls: { certFile: a.certFile, keyFile: b.keyFile } } }));
      assert.equal(error.problems.length, 1);
      assert.equal(error.problems[0]?.path, 'http.tls');
      assert.match(error.problems[0]?.message ?? '', /not a usable PEM certificate and key/);
    });
  });

  describe('secrets', () => {
    const secretConfig = {
      storage: { driver: 's3', s3: { endPoint: 'minio', accessKey: 'AKIAEXAMPLE', secretKey: 's3-hunter2', bucket: 'b' } },
      database: { driver: 'postgres', postgres: { url: 'postgres://berth:pg-hunter2@db:5432/berth' } },
      cache: { driver: 'redis', redis: { url: 'redis://:redis-hunter2@cache:6379/0' } },
    };

    it('are redacted from the configuration to log, keeping the rest of each URL', () => {
      const config = validateConfig(secretConfig);
      const redacted = redactConfig(config);
      const text = JSON.stringify(redacted);
      assert.ok(!text.includes('hunter2'), text);
      assert.equal(redacted.storage.s3?.secretKey, REDACTED);
      assert.equal(redacted.storage.s3?.accessKey, 'AKIAEXAMPLE');
      assert.equal(redacted.database.postgres?.url, 'postgres://berth:redacted@db:5432/berth');
      assert.equal(redacted.cache.redis?.url, 'redis://:redacted@cache:6379/0');
      // The original is untouched.
      assert.equal(config.storage.s3?.secretKey, 's3-hunter2');
    });

    it('never appear in problems, whatever is wrong with them', () => {
      const file = write(
        'secrets.yaml',
        [
          'storage:',
          '  driver: s3',
          '  s3: { endPoint: minio, accessKey: a, secretKey: 12345678, bucket: b }',
          'database:',
          '  driver: postgres',
          '  postgres: { url: "mysql://berth:pg-hunter2@db/berth" }',
          'cache:',
          '  driver: redis',
          '  redis: { url: "::redis-hunter2" }',
        ].join('\n'),
      );
      const typeError = configError(() => loadConfig({ file, env: {} }));
      assert.equal(problemsOf(typeError)['storage.s3.secretKey'], 'expected a string');
      assert.ok(!typeError.message.includes('12345678'), typeError.message);

      const fixed = loadConfig.bind(null, { file, env: { BERTH_STORAGE_S3_SECRETKEY: 'fine' } });
      const urlErrors = configError(fixed);
      assert.deepEqual(problemsOf(urlErrors), {
        'database.postgres.url': 'scheme mysql not supported (expected postgres: or postgresql://...)',
        'cache.redis.url': 'not a valid URL (expected redis://...)',
      });
    });

    it('never appear in YAML syntax errors', () => {
      const file = write('syntax.yaml', 'storage:\n  s3:\n    secretKey: "yaml-hunter2\n  bucket: [\n');
      const error = configError(() => loadConfig({ file, env: {} }));
      assert.ok(error.problems.length > 0);
      assert.ok(!error.message.includes('hunter2'), error.message);
    });
  });
});
