/**
 * Registry clients (skopeo, podman, ctr, oras, crane, helm) and the OCI conformance suites.
 * No process runs; this prepares a home of their own in the run's directory so no client
 * reads or writes the user's ~/.docker, ~/.config/containers or helm directories.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ClientsInfo {
  /** Environment to merge into every client process (credentials and caches stay in the run). */
  env: Record<string, string>;
  /** Global podman flags: its own storage (vfs) in the run's directory, no systemd. */
  podmanArgs: string[];
}

/** skopeo and podman refuse to work without a signature policy; Debian's containers-common ships one. */
const systemPolicy = '/etc/containers/policy.json';

export function prepareClients(dir: string): ClientsInfo {
  const home = (name: string) => {
    const path = join(dir, name);
    mkdirSync(path, { recursive: true });
    return path;
  };
  if (!existsSync(systemPolicy)) {
    mkdirSync('/etc/containers', { recursive: true });
    writeFileSync(systemPolicy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }, null, 2) + '\n');
  }
  const podman = home('podman');
  const env = {
    DOCKER_CONFIG: home('docker'), // crane, oras (and docker) credentials
    REGISTRY_AUTH_FILE: join(home('containers'), 'auth.json'), // skopeo, podman, buildah
    HELM_CONFIG_HOME: home('helm/config'),
    HELM_CACHE_HOME: home('helm/cache'),
    HELM_DATA_HOME: home('helm/data'),
    HELM_REGISTRY_CONFIG: join(home('helm/config'), 'registry.json'),
  };
  return {
    env,
    podmanArgs: [
      '--root', join(podman, 'root'),
      '--runroot', join(podman, 'run'),
      '--storage-driver', 'vfs',
      '--cgroup-manager', 'cgroupfs',
      '--events-backend', 'file',
      '--tmpdir', home('podman/tmp'),
    ],
  };
}
