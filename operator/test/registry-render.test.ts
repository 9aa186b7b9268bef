import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile, mkdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { Value } from '@sinclair/typebox/value';
import type { V1Deployment, V1Secret } from '@kubernetes/client-node';
import type { Registry } from '../src/crds/registry.ts';
import { withDefaults } from '../src/registry/reconciler.ts';
import { renderChildren, registryConfig, nodeTrustConfig, CHECKSUM_ANNOTATION } from '../src/registry/render.ts';
import { reconcileMaterial, decode, PENDING_ROTATION_ANNOTATION } from '../src/registry/material.ts';
import { describeCertificate, generateCA, isSignedBy } from '../src/registry/pki.ts';
import { planFiles, syncNodeTrust, MARKER } from '../src/node-trust/writer.ts';
import { runNodeTrust } from '../src/node-trust/main.ts';
import { pino } from 'pino';
import { deploymentRolledOut } from '../src/registry/rollout.ts';
import { loadConfig } from '../../registry/src/config/load.ts';
import { AuthSchema } from '../../registry/src/auth/config.ts';
import { FilesystemStorageSchema } from '../../registry/src/config/schema.ts';
import { loadSigningKeyFile, loadVerificationKeyFiles } from '../../registry/src/auth/keys.ts';

function registry(spec: Record<string, unknown>, name = 'reg'): Registry {
  return withDefaults({
    apiVersion: 'berth.dev/v1alpha1',
    kind: 'Registry',
    metadata: { name, namespace: 'team', uid: 'uid-1', generation: 1 },
    spec: spec as Registry['spec'],
  });
}

const inputs = { tlsSecretName: 'reg-tls', caBundle: 'CA', secretsChecksum: 'abc', operatorImage: 'op:1', nodeTrustMode: 'sync' as const };

const production = {
  host: 'registry.example.com',
  replicas: 3,
  storage: { s3: { endPoint: 'minio.storage', bucket: 'berth', useSSL: false, credentialsSecret: { name: 's3' } } },
  database: { postgres: { urlSecret: { name: 'pg' }, poolSize: 20 } },
  redis: { urlSecret: { name: 'redis' } },
  ingress: { className: 'nginx' },
  nodeTrust: { enabled: true, containers: true },
};

/** Existing Secrets as the API server would return them after applying `secrets`. */
function asExisting(secrets: V1Secret[]) {
  const by = (suffix: string) => secrets.find((s) => s.metadata!.name!.endsWith(suffix));
  return { ca: by('-ca'), tls: by('-tls'), token: by('-token'), admin: by('-admin') };
}

describe('Registry rendering (pure)', () => {
  it("sizes the filesystem driver's page-cache window from the Registry, else from the memory limit", () => {
    const windowOf = (spec: Record<string, unknown>) => {
      const config = parse(renderChildren(registry({ host: 'registry.example.com', ...spec }), inputs).configMap.data!['config.yaml']!);
      return config.storage.filesystem.pageCacheMiB as number | undefined;
    };
    assert.equal(windowOf({}), undefined, 'no limit: the registry default');
    assert.equal(windowOf({ resources: { limits: { memory: '512Mi' } } }), 256);
    assert.equal(windowOf({ resources: { limits: { memory: '1.5Gi' } } }), 768);
    assert.equal(windowOf({ resources: { limits: { memory: '8Gi' } } }), 1024);
    assert.equal(windowOf({ resources: { limits: { memory: '1e9' } } }), 476);
    assert.equal(windowOf({ resources: { limits: { memory: '2G' } } }), 953);
    assert.equal(windowOf({ resources: { limits: { memory: 'lots' } } }), undefined, 'not a quantity: the registry default');
    assert.equal(windowOf({ storage: { filesystem: { pageCacheMiB: 0 } }, resources: { limits: { memory: '8Gi' } } }), 0);
    assert.equal(windowOf({ storage: { filesystem: { pageCacheMiB: 2048 } } }), 2048);
    // The registry's own schema accepts what is rendered.
    const filesystem = Value.Default(
      FilesystemStorageSchema,
      parse(renderChildren(registry({ host: 'r.example.com', resources: { limits: { memory: '512Mi' } } }), inputs).configMap.data!['config.yaml']!).storage
        .filesystem,
    );
    assert.ok(Value.Check(FilesystemStorageSchema, filesystem), JSON.stringify([...Value.Errors(FilesystemStorageSchema, filesystem)].slice(0, 3)));
  });

  it('renders a minimal Registry on embedded backends: PVC, Recreate, no PDB, no Ingress, no DaemonSet', () => {
    const out = renderChildren(registry({ host: 'registry.example.com' }), inputs);
    assert.equal(out.deployment.spec!.replicas, 1);
    assert.equal(out.deployment.spec!.strategy!.type, 'Recreate');
    assert.equal(out.pvc!.spec!.resources!.requests!.storage, '20Gi');
    assert.equal(out.pvc!.metadata!.ownerReferences, undefined, 'the data claim is kept when the Registry goes');
    assert.equal(out.pdb, undefined);
    assert.equal(out.ingress, undefined);
    assert.equal(out.nodeTrust, undefined);
    const config = parse(out.configMap.data!['config.yaml']!);
    assert.equal(config.storage.driver, 'filesystem');
    assert.equal(config.database.driver, 'pglite');
    assert.equal(config.http.externalURL, 'https://registry.example.com');
    assert.equal(out.deployment.metadata!.ownerReferences![0]!.uid, 'uid-1');
  });

  it('renders a production Registry: external backends, credentials only from Secrets, PDB, Ingress, node trust', () => {
    const out = renderChildren(registry(production), inputs);
    const c = out.deployment.spec!.template.spec!.containers[0]!;
    assert.equal(out.deployment.spec!.strategy!.type, 'RollingUpdate');
    assert.equal(out.pvc, undefined);
    assert.equal(out.pdb!.spec!.maxUnavailable, 1);
    // The registry's node flags (memory: runtime/memory.ts), whatever the image's entrypoint passes.
    assert.deepEqual(c.env![0], { name: 'NODE_OPTIONS', value: '--max-semi-space-size=4 --expose-gc' });
    assert.deepEqual(
      c.env!.slice(1).map((e) => [e.name, e.valueFrom!.secretKeyRef!.name, e.valueFrom!.secretKeyRef!.key]),
      [
        ['BERTH_STORAGE_S3_ACCESSKEY', 's3', 'accessKey'],
        ['BERTH_STORAGE_S3_SECRETKEY', 's3', 'secretKey'],
        ['BERTH_DATABASE_POSTGRES_URL', 'pg', 'url'],
        ['BERTH_CACHE_REDIS_URL', 'redis', 'url'],
        ['BERTH_AUTH_ADMIN_USERNAME', 'reg-admin', 'username'],
        ['BERTH_AUTH_ADMIN_PASSWORD', 'reg-admin', 'password'],
      ],
    );
    const configText = out.configMap.data!['config.yaml']!;
    assert.doesNotMatch(configText, /secretKey|accessKey|password|postgres:\/\/|redis:\/\//i, 'no credential in the ConfigMap');
    assert.equal(c.livenessProbe!.httpGet!.path, '/api/v2.0/ping');
    assert.equal(c.readinessProbe!.httpGet!.path, '/api/v2.0/health');
    assert.equal(out.ingress!.spec!.ingressClassName, 'nginx');
    assert.deepEqual(out.ingress!.spec!.tls, [{ hosts: ['registry.example.com'], secretName: 'reg-tls' }]);
    const mounts = out.nodeTrust!.spec!.template.spec!.volumes!.filter((v) => v.hostPath).map((v) => v.hostPath!.path);
    assert.deepEqual(mounts, ['/etc/containerd/certs.d', '/etc/docker/certs.d', '/etc/containers/certs.d']);
  });

  it('is deterministic, and the checksum annotation follows the config and the secrets', () => {
    const reg = registry(production);
    assert.deepEqual(renderChildren(reg, inputs), renderChildren(reg, inputs));
    const sum = (r: Registry, i = inputs) => renderChildren(r, i).deployment.spec!.template.metadata!.annotations![CHECKSUM_ANNOTATION];
    assert.notEqual(sum(reg), sum(reg, { ...inputs, secretsChecksum: 'other' }));
    assert.notEqual(sum(reg), sum(registry({ ...production, logLevel: 'debug' })));
  });

  it('renders a configuration the registry itself accepts, with credentials from the environment', () => {
    const dir = join(tmpdir(), `berth-render-${process.pid}`);
    return (async () => {
      await mkdir(dir, { recursive: true });
      const file = join(dir, 'config.yaml');
      // The Pod mounts the TLS Secret at /etc/berth/tls; here the files sit in the test directory.
      const ca = await generateCA('test');
      await writeFile(join(dir, 'tls.crt'), ca.certPem);
      await writeFile(join(dir, 'tls.key'), ca.keyPem);
      // ... and the token keys as the <name>-token Secret would be mounted.
      const material = await reconcileMaterial(registry(production), {}, { rolloutComplete: true });
      const token = material.secrets.find((s) => s.metadata!.name === 'reg-token');
      await mkdir(join(dir, 'token'), { recursive: true });
      await writeFile(join(dir, 'token', 'signing.key'), decode(token, 'signing.key')!);
      await writeFile(join(dir, 'token', 'verification.jwks'), decode(token, 'verification.jwks')!);
      const signing = await loadSigningKeyFile(join(dir, 'token', 'signing.key'));
      assert.equal(signing.kid, decode(token, 'signing.kid'), 'the registry derives the same key id as the operator');
      const verification = await loadVerificationKeyFiles([join(dir, 'token', 'verification.jwks')]);
      assert.deepEqual(verification.map((k) => k.kid), [signing.kid]);
      const rendered = (r: Registry) => {
        const doc = parse(renderChildren(r, inputs).configMap.data!['config.yaml']!.replaceAll('/etc/berth/tls', dir).replaceAll('/etc/berth/auth', dir));
        const auth = Value.Default(AuthSchema, structuredClone(doc.auth));
        assert.ok(Value.Check(AuthSchema, auth), JSON.stringify([...Value.Errors(AuthSchema, auth)].slice(0, 3)));
        assert.equal(doc.auth.signingKeyFile, `${dir}/token/signing.key`);
        return stringify(doc);
      };
      await writeFile(file, rendered(registry(production)));
      const config = loadConfig({
        file,
        env: {
          BERTH_STORAGE_S3_ACCESSKEY: 'ak',
          BERTH_STORAGE_S3_SECRETKEY: 'sk',
          BERTH_DATABASE_POSTGRES_URL: 'postgres://u:p@db:5432/berth',
          BERTH_CACHE_REDIS_URL: 'redis://:p@redis:6379/0',
          BERTH_AUTH_ADMIN_USERNAME: 'admin',
          BERTH_AUTH_ADMIN_PASSWORD: 'a-long-password',
        },
      }) as unknown as { storage: { s3: { secretKey: string } }; database: { driver: string } };
      assert.equal(config.storage.s3.secretKey, 'sk');
      assert.equal(config.database.driver, 'postgres');
      await writeFile(file, rendered(registry({ host: 'r.example.com' })));
      assert.equal((loadConfig({ file, env: {} }) as unknown as { database: { driver: string } }).database.driver, 'pglite');
      await rm(dir, { recursive: true, force: true });
    })();
  });

  it('knows when a Deployment has rolled out', () => {
    const d: V1Deployment = { metadata: { generation: 2 }, spec: { replicas: 2, selector: {}, template: {} }, status: { observedGeneration: 2, replicas: 2, updatedReplicas: 2, availableReplicas: 2 } };
    assert.equal(deploymentRolledOut(d), true);
    assert.equal(deploymentRolledOut({ ...d, status: { ...d.status, observedGeneration: 1 } }), false);
    assert.equal(deploymentRolledOut({ ...d, status: { ...d.status, updatedReplicas: 1 } }), false);
    assert.equal(deploymentRolledOut({ ...d, status: undefined }), false);
  });
});

describe('Registry generated material', function () {
  this.timeout(30_000);

  it('generates a CA and a serving certificate for the host and the Service names, then keeps them', async () => {
    const reg = registry({ host: 'registry.example.com', tls: { extraNames: ['127.0.0.1'] } });
    const first = await reconcileMaterial(reg, {}, { rolloutComplete: false });
    const tls = first.secrets.find((s) => s.metadata!.name === 'reg-tls')!;
    const cert = decode(tls, 'tls.crt')!;
    const names = describeCertificate(cert).names;
    for (const n of ['registry.example.com', 'reg', 'reg.team', 'reg.team.svc', 'reg.team.svc.cluster.local', '127.0.0.1']) {
      assert.ok(names.includes(n), `certificate lacks ${n}: ${names}`);
    }
    assert.ok(isSignedBy(cert, first.caBundle));
    assert.equal(tls.type, 'kubernetes.io/tls');
    assert.ok(first.changes.length >= 3);

    const second = await reconcileMaterial(reg, asExisting(first.secrets), { rolloutComplete: true });
    assert.deepEqual(second.secrets, first.secrets, 'nothing is regenerated on a second reconcile');
    assert.deepEqual(second.changes, []);
  });

  it('reissues the serving certificate from the same CA when the host changes', async () => {
    const first = await reconcileMaterial(registry({ host: 'a.example.com' }), {}, { rolloutComplete: true });
    const second = await reconcileMaterial(registry({ host: 'b.example.com' }), asExisting(first.secrets), { rolloutComplete: true });
    assert.equal(second.caBundle, first.caBundle);
    const cert = decode(second.secrets.find((s) => s.metadata!.name === 'reg-tls'), 'tls.crt')!;
    assert.ok(describeCertificate(cert).names.includes('b.example.com'));
    assert.match(second.changes.join(), /missing names b\.example\.com/);
  });

  it('rotates the token key in two phases: verification first, signing after the rollout', async () => {
    const reg = registry({ host: 'r.example.com' });
    const first = await reconcileMaterial(reg, {}, { rolloutComplete: true });
    const kid1 = first.signingKeyId;
    const rotate = registry({ host: 'r.example.com', rotation: { tokenSigningKey: '2026-11-23' } });

    const phase1 = await reconcileMaterial(rotate, asExisting(first.secrets), { rolloutComplete: true });
    const token1 = phase1.secrets.find((s) => s.metadata!.name === 'reg-token')!;
    assert.equal(phase1.signingKeyId, kid1, 'signing stays on the old key while replicas learn the new one');
    const jwks1 = JSON.parse(decode(token1, 'verification.jwks')!).keys;
    assert.equal(jwks1.length, 2);
    assert.equal(token1.metadata!.annotations![PENDING_ROTATION_ANNOTATION], '2026-11-23');

    const waiting = await reconcileMaterial(rotate, asExisting(phase1.secrets), { rolloutComplete: false });
    assert.equal(waiting.signingKeyId, kid1, 'no switch before the rollout completes');

    const phase2 = await reconcileMaterial(rotate, asExisting(phase1.secrets), { rolloutComplete: true });
    const token2 = phase2.secrets.find((s) => s.metadata!.name === 'reg-token')!;
    assert.notEqual(phase2.signingKeyId, kid1);
    const kids = JSON.parse(decode(token2, 'verification.jwks')!).keys.map((k: { kid: string }) => k.kid);
    assert.deepEqual(kids, [phase2.signingKeyId, kid1], 'the old key still verifies tokens it signed');
    assert.equal(token2.metadata!.annotations![PENDING_ROTATION_ANNOTATION], undefined);

    const steady = await reconcileMaterial(rotate, asExisting(phase2.secrets), { rolloutComplete: true });
    assert.deepEqual(steady.changes, [], 'a done rotation is not repeated');
  });

  it('keeps the old CA in the bundle after a CA rotation', async () => {
    const first = await reconcileMaterial(registry({ host: 'r.example.com' }), {}, { rolloutComplete: true });
    const rotated = await reconcileMaterial(registry({ host: 'r.example.com', rotation: { ca: 'x' } }), asExisting(first.secrets), { rolloutComplete: true });
    assert.ok(rotated.caBundle.includes(first.caBundle.trim()));
    assert.notEqual(rotated.caBundle.trim(), first.caBundle.trim());
    const cert = decode(rotated.secrets.find((s) => s.metadata!.name === 'reg-tls'), 'tls.crt')!;
    assert.ok(!isSignedBy(cert, first.caBundle), 'the serving certificate comes from the new CA');
  });
});

describe('node-trust writer', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-node-trust-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const reg = () => registry({ host: 'registry.example.com', port: 8443, nodeTrust: { enabled: true, containers: true } });

  it('writes hosts.toml and ca.crt for containerd, docker and containers under host:port', async () => {
    const config = nodeTrustConfig(reg(), 'PEM\n', 'sync');
    const result = await syncNodeTrust(root, config);
    assert.equal(result.written.length, 7);
    const toml = await readFile(join(root, 'etc/containerd/certs.d/registry.example.com:8443/hosts.toml'), 'utf8');
    assert.match(toml, /^server = "https:\/\/registry\.example\.com:8443"$/m);
    assert.match(toml, /^\[host\."https:\/\/registry\.example\.com:8443"\]$/m);
    assert.match(toml, /^ {2}ca = "ca\.crt"$/m);
    for (const dir of ['containerd', 'docker', 'containers']) {
      assert.equal(await readFile(join(root, `etc/${dir}/certs.d/registry.example.com:8443/ca.crt`), 'utf8'), 'PEM\n');
    }
    const leftovers = (await readdir(join(root, 'etc/docker/certs.d/registry.example.com:8443'))).filter((f) => f.includes('.tmp-'));
    assert.deepEqual(leftovers, [], 'no temporary files are left behind');
    assert.deepEqual((await syncNodeTrust(root, config)).written, [], 'a second sync writes nothing');
  });

  it('follows a CA rotation by replacing ca.crt atomically', async () => {
    await syncNodeTrust(root, nodeTrustConfig(reg(), 'OLD\n', 'sync'));
    const path = join(root, 'etc/docker/certs.d/registry.example.com:8443/ca.crt');
    const inodeBefore = (await stat(path)).ino;
    const result = await syncNodeTrust(root, nodeTrustConfig(reg(), 'NEW\n', 'sync'));
    assert.ok(result.written.includes('etc/docker/certs.d/registry.example.com:8443/ca.crt'));
    assert.equal(await readFile(path, 'utf8'), 'NEW\n');
    assert.notEqual((await stat(path)).ino, inodeBefore, 'replaced by rename, not rewritten in place');
  });

  it('removes only what it wrote when the Registry goes away, and leaves other files', async () => {
    await syncNodeTrust(root, nodeTrustConfig(reg(), 'PEM\n', 'sync'));
    const docker = join(root, 'etc/docker/certs.d/registry.example.com:8443');
    await writeFile(join(docker, 'client.cert'), 'someone else');
    await mkdir(join(root, 'etc/containerd/certs.d/other.example.com'), { recursive: true });
    await writeFile(join(root, 'etc/containerd/certs.d/other.example.com/hosts.toml'), 'x');
    const result = await syncNodeTrust(root, nodeTrustConfig(reg(), 'PEM\n', 'remove'));
    assert.ok(result.removed.length >= 6);
    assert.deepEqual(await readdir(join(root, 'etc/containerd/certs.d')), ['other.example.com']);
    assert.deepEqual(await readdir(docker), ['client.cert']);
    assert.deepEqual(await readdir(join(root, 'etc/containers/certs.d')), []);
  });

  it('moves the files when the host changes', async () => {
    await syncNodeTrust(root, nodeTrustConfig(reg(), 'PEM\n', 'sync'));
    const moved = registry({ host: 'new.example.com', nodeTrust: { enabled: true } });
    await syncNodeTrust(root, nodeTrustConfig(moved, 'PEM\n', 'sync'));
    assert.deepEqual(await readdir(join(root, 'etc/containerd/certs.d')), ['new.example.com']);
    assert.deepEqual(await readdir(join(root, 'etc/containers/certs.d')), []);
  });

  it('runs as the DaemonSet does: syncs from the mounted trust.json, then reports ready to its probe', async () => {
    const config = join(root, 'trust.json');
    const ready = join(root, 'ready');
    await writeFile(config, JSON.stringify(nodeTrustConfig(reg(), 'PEM\n', 'sync')));
    const logger = pino({ level: 'silent' });
    const args = ['--config', config, '--host-root', join(root, 'host'), '--ready-file', ready];
    assert.equal(await runNodeTrust(['--probe', '--ready-file', ready], logger, new AbortController().signal), 1, 'not ready before the first sync');
    assert.equal(await runNodeTrust([...args, '--once'], logger, new AbortController().signal), 0);
    assert.equal(await readFile(join(root, 'host/etc/containerd/certs.d/registry.example.com:8443/ca.crt'), 'utf8'), 'PEM\n');
    assert.equal(await runNodeTrust(['--probe', '--ready-file', ready], logger, new AbortController().signal), 0);
  });

  it('plans nothing in remove mode and marks every directory it owns', () => {
    assert.deepEqual(planFiles(nodeTrustConfig(reg(), 'PEM', 'remove')), []);
    const markers = planFiles(nodeTrustConfig(reg(), 'PEM', 'sync')).filter((f) => f.path.endsWith(MARKER));
    assert.equal(markers.length, 3);
    assert.equal(markers[0]!.content, 'team/reg/uid-1\n');
  });
});
