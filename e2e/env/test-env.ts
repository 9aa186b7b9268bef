/**
 * Connection details of the real services started by e2e/env/run-tests.ts, handed to tests
 * in one place: a JSON file whose path is in BERTH_TEST_ENV. Tests never guess ports.
 */
import { readFileSync } from 'node:fs';

export interface TestEnv {
  /** Temporary directory of this test run; tests create their own subdirectories in it. */
  workDir: string;
  postgres: {
    /** Superuser URL of a cluster started for this run (never the system one). */
    url: string;
    host: string;
    port: number;
    user: string;
    password: string;
    database: string;
  };
  redis: { url: string; host: string; port: number; password: string };
  minio: { endPoint: string; port: number; useSSL: false; accessKey: string; secretKey: string; bucket: string };
  kube: { kubeconfig: string; server: string };
  containerd: {
    /** The daemon's socket: `ctr --address <address>`. */
    address: string;
    /** `ctr pull --snapshotter <snapshotter>`: overlayfs where overlay mounts work, else native. */
    snapshotter: 'overlayfs' | 'native';
    /** A namespace for tests: `ctr -n <namespace>`. */
    namespace: string;
  };
  /** Absolute paths of client binaries and tools. */
  tools: {
    skopeo: string;
    podman: string;
    ctr: string;
    oras: string;
    crane: string;
    helm: string;
    dockerRegistry: string;
    /** The current conformance suite (opencontainers/distribution-spec main, `package main`). */
    conformance: string;
    /**
     * The Ginkgo conformance suite at the newest commit the module proxy serves
     * (2023-11-01; `go test -c`): the v1.1.x suites' form, workflows and environment.
     */
    conformanceGinkgo: string;
    /**
     * The v1.1.1 conformance suite (`go test -c`). Empty when it could not be built (the
     * module proxy may refuse its pseudo-version); `unavailable.conformanceV111` says why.
     */
    conformanceV111: string;
  };
  /** A CNCF Distribution (docker-registry) instance started for this run. */
  distribution: { url: string; /** host:port, as clients name the registry. */ host: string };
  /**
   * For every client process: merge `env` into its environment (credentials, caches and
   * helm homes stay in this run's directory) and put `podmanArgs` before podman's command.
   */
  clients: { env: Record<string, string>; podmanArgs: string[] };
  /** The services this run started (BERTH_SERVICES may limit them). */
  services: string[];
  /** Every long-running process the setup started, with its pid. */
  processes: { name: string; pid: number }[];
  /** Tools that could not be provided on this machine, with the reason. */
  unavailable?: Record<string, string>;
}

/** Parts of TestEnv, absent when the BERTH_SERVICES name that fills them was not started. */
const serviceSections = {
  postgres: 'postgres',
  redis: 'redis',
  minio: 'minio',
  kube: 'kube',
  containerd: 'containerd',
  distribution: 'distribution',
  tools: 'clients',
  clients: 'clients',
} as const;

let cached: TestEnv | undefined;

export function testEnv(): TestEnv {
  if (cached) return cached;
  const file = process.env.BERTH_TEST_ENV;
  if (!file) {
    throw new Error(
      'BERTH_TEST_ENV is not set: run the tests with `npm test`, which installs and starts ' +
        'PostgreSQL, Redis, MinIO, etcd/kube-apiserver and containerd (see e2e/env/).',
    );
  }
  const env = JSON.parse(readFileSync(file, 'utf8')) as TestEnv;
  for (const [section, service] of Object.entries(serviceSections) as [keyof TestEnv, string][]) {
    if (env[section] !== undefined) continue;
    // Fail with the reason instead of "cannot read properties of undefined".
    Object.defineProperty(env, section, {
      get() {
        throw new Error(
          `testEnv().${section}: service "${service}" was not started for this run ` +
            `(BERTH_SERVICES=${process.env.BERTH_SERVICES ?? ''}): add it, or unset BERTH_SERVICES to start everything`,
        );
      },
    });
  }
  cached = env;
  return cached;
}
