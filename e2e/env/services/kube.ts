/**
 * etcd + kube-apiserver of their own, flagged as controller-runtime's envtest does: RBAC on,
 * serving certificate and client CA generated here, a service-account key, an admin client
 * certificate in system:masters and an admin kubeconfig. Everything on 127.0.0.1.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { runCommand, startProcess, waitUntilReady, type ServiceProcess } from '../process.ts';
import type { RunningService, ServiceContext } from './service.ts';

export interface KubeInfo {
  kubeconfig: string;
  server: string;
}

export interface KubePrograms {
  etcd: string;
  kubeApiserver: string;
  openssl: string;
}

export async function startKube(ctx: ServiceContext, programs: KubePrograms): Promise<RunningService<KubeInfo>> {
  const started: ServiceProcess[] = [];
  const stop = async () => {
    for (const p of started.reverse()) await p.stop();
  };
  try {
    const etcdUrl = await startEtcd(ctx, programs.etcd, started);
    const port = await ctx.ports.next();
    const server = `https://127.0.0.1:${port}`;
    const certs = await generateCertificates(ctx.dir, programs.openssl);
    const apiserver = startProcess(
      'kube-apiserver',
      programs.kubeApiserver,
      [
        `--etcd-servers=${etcdUrl}`,
        '--etcd-prefix=/berth-test',
        `--cert-dir=${join(ctx.dir, 'apiserver')}`,
        `--tls-cert-file=${certs.servingCert}`,
        `--tls-private-key-file=${certs.servingKey}`,
        `--client-ca-file=${certs.caCert}`,
        `--secure-port=${port}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        '--authorization-mode=RBAC',
        '--service-cluster-ip-range=10.0.0.0/24',
        '--allow-privileged=true',
        '--disable-admission-plugins=ServiceAccount',
        `--service-account-issuer=${server}`,
        `--service-account-key-file=${certs.serviceAccountPublicKey}`,
        `--service-account-signing-key-file=${certs.serviceAccountKey}`,
        '--profiling=false',
      ],
      join(ctx.dir, 'kube-apiserver.log'),
    );
    started.push(apiserver);
    const tls = { ca: readFileSync(certs.caCert), cert: readFileSync(certs.adminCert), key: readFileSync(certs.adminKey) };
    // Ready once RBAC's bootstrap roles exist and the bootstrap controller made `default`.
    await waitUntilReady(
      apiserver,
      async () => (await get(`${server}/readyz`, tls)) === 200 && (await get(`${server}/api/v1/namespaces/default`, tls)) === 200,
      120_000,
    );
    const kubeconfig = join(ctx.dir, 'admin.kubeconfig');
    writeFileSync(kubeconfig, adminKubeconfig(server, tls), { mode: 0o600 });
    return { info: { kubeconfig, server }, processes: [...started], stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function startEtcd(ctx: ServiceContext, etcd: string, started: ServiceProcess[]): Promise<string> {
  const clientPort = await ctx.ports.next();
  const peerPort = await ctx.ports.next();
  const clientUrl = `http://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const server = startProcess(
    'etcd',
    etcd,
    [
      '--name=berth-test',
      `--data-dir=${join(ctx.dir, 'etcd')}`,
      `--listen-client-urls=${clientUrl}`,
      `--advertise-client-urls=${clientUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=berth-test=${peerUrl}`,
      '--unsafe-no-fsync', // test data: speed over durability, as envtest does
      '--logger=zap',
      '--log-level=warn',
    ],
    join(ctx.dir, 'etcd.log'),
  );
  started.push(server);
  await waitUntilReady(server, async () => {
    const response = await fetch(`${clientUrl}/health`);
    return response.ok && ((await response.json()) as { health?: string }).health === 'true';
  });
  return clientUrl;
}

interface Certificates {
  caCert: string;
  servingCert: string;
  servingKey: string;
  adminCert: string;
  adminKey: string;
  serviceAccountKey: string;
  serviceAccountPublicKey: string;
}

/** A throwaway CA signing the serving and admin certificates (ECDSA P-256: fast to make). */
async function generateCertificates(dir: string, openssl: string): Promise<Certificates> {
  const file = (name: string) => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await runCommand(openssl, [
    'req', '-x509', ...ec, '-keyout', file('ca.key'), '-out', file('ca.crt'), '-days', '30', '-subj', '/CN=berth-test-ca',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  const signed = async (name: string, subject: string, extensions: string[]) => {
    await runCommand(openssl, ['req', ...ec, '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`), '-subj', subject]);
    writeFileSync(file(`${name}.ext`), `${extensions.join('\n')}\n`);
    await runCommand(openssl, [
      'x509', '-req', '-in', file(`${name}.csr`), '-CA', file('ca.crt'), '-CAkey', file('ca.key'), '-CAcreateserial',
      '-days', '30', '-out', file(`${name}.crt`), '-extfile', file(`${name}.ext`),
    ]);
  };
  await signed('serving', '/CN=kube-apiserver', [
    'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc',
    'extendedKeyUsage=serverAuth',
    'keyUsage=critical,digitalSignature,keyEncipherment',
  ]);
  await signed('admin', '/O=system:masters/CN=berth-admin', [
    'extendedKeyUsage=clientAuth',
    'keyUsage=critical,digitalSignature,keyEncipherment',
  ]);
  await runCommand(openssl, ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', file('sa.key')]);
  await runCommand(openssl, ['ec', '-in', file('sa.key'), '-pubout', '-out', file('sa.pub')]);
  return {
    caCert: file('ca.crt'),
    servingCert: file('serving.crt'),
    servingKey: file('serving.key'),
    adminCert: file('admin.crt'),
    adminKey: file('admin.key'),
    serviceAccountKey: file('sa.key'),
    serviceAccountPublicKey: file('sa.pub'),
  };
}

function get(url: string, tls: { ca: Buffer; cert: Buffer; key: Buffer }): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ...tls, method: 'GET', timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

function adminKubeconfig(server: string, tls: { ca: Buffer; cert: Buffer; key: Buffer }): string {
  const b64 = (b: Buffer) => b.toString('base64');
  // JSON is valid YAML: kubectl and @kubernetes/client-node read it as a kubeconfig.
  return JSON.stringify(
    {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'berth-test', cluster: { server, 'certificate-authority-data': b64(tls.ca) } }],
      users: [{ name: 'berth-admin', user: { 'client-certificate-data': b64(tls.cert), 'client-key-data': b64(tls.key) } }],
      contexts: [{ name: 'berth-test', context: { cluster: 'berth-test', user: 'berth-admin', namespace: 'default' } }],
      'current-context': 'berth-test',
    },
    null,
    2,
  );
}
