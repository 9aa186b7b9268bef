/**
 * The programs the test environment needs, installed only when missing:
 * - Debian packages through apt-get (the machine runs as root, like CI);
 * - pinned Go programs built from the Go module proxy into a cache directory keyed by
 *   name@version, so a second run reuses them:
 *   `${BERTH_TOOLS_CACHE:-~/.cache/berth/tools}/<name>@<version>/bin/<binary>`.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Progress } from './progress.ts';
import { runCommand } from './process.ts';

/** A program that comes from a Debian package. */
export interface DebianProgram {
  /** The Debian package that ships it. */
  package: string;
  /** Absolute paths where it may live; the first that exists wins. */
  paths: () => string[];
}

const inBin = (name: string) => () => [`/usr/bin/${name}`, `/usr/sbin/${name}`, `/usr/local/bin/${name}`];

/** Debian's postgresql puts its server programs under /usr/lib/postgresql/<major>/bin. */
const postgresBin = (name: string) => () => {
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root)
    ? readdirSync(root)
        .filter((entry) => /^\d+$/.test(entry))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  return majors.map((major) => join(root, major, 'bin', name));
};

export const debianPrograms = {
  initdb: { package: 'postgresql', paths: postgresBin('initdb') },
  postgres: { package: 'postgresql', paths: postgresBin('postgres') },
  redisServer: { package: 'redis-server', paths: inBin('redis-server') },
  skopeo: { package: 'skopeo', paths: inBin('skopeo') },
  podman: { package: 'podman', paths: inBin('podman') },
  newuidmap: { package: 'uidmap', paths: inBin('newuidmap') },
  containerd: { package: 'containerd', paths: inBin('containerd') },
  ctr: { package: 'containerd', paths: inBin('ctr') },
  dockerRegistry: { package: 'docker-registry', paths: inBin('docker-registry') },
  etcd: { package: 'etcd-server', paths: inBin('etcd') },
  openssl: { package: 'openssl', paths: inBin('openssl') },
} satisfies Record<string, DebianProgram>;

export type DebianProgramName = keyof typeof debianPrograms;

/** A pinned Go program. */
export interface GoProgram {
  name: string;
  version: string;
  binary: string;
  /** Builds the binary at `output` in a fresh, empty `workDir`. */
  build: (go: GoBuild, workDir: string, output: string) => Promise<void>;
}

export interface GoBuild {
  /** Runs `go <args>` with the build environment (module proxy only, no VCS stamping). */
  run(args: string[], cwd: string): Promise<string>;
}

const buildFlags = ['-trimpath', '-ldflags=-s -w'];

/** `go install module/pkg@version`: for modules whose go.mod has no replace directives. */
function goInstall(pkg: string): GoProgram['build'] {
  // GOBIN is the output's directory; the binary is named after the package's last element.
  return async (go, workDir) => {
    await go.run(['install', ...buildFlags, pkg], workDir);
  };
}

/**
 * Kubernetes 1.30: its staging modules (k8s.io/api, apimachinery, ...) are `replace`d with
 * local paths in k8s.io/kubernetes' go.mod, so `go install` cannot build it. A small wrapper
 * module requires k8s.io/kubernetes and points each staging module at its published
 * v0.30.x release. The list is the replace block of v1.30.14's go.mod.
 */
const kubernetesVersion = 'v1.30.14';
const stagingModules = [
  'api', 'apiextensions-apiserver', 'apimachinery', 'apiserver', 'cli-runtime', 'client-go',
  'cloud-provider', 'cluster-bootstrap', 'code-generator', 'component-base', 'component-helpers',
  'controller-manager', 'cri-api', 'csi-translation-lib', 'dynamic-resource-allocation',
  'endpointslice', 'kms', 'kube-aggregator', 'kube-controller-manager', 'kube-proxy',
  'kube-scheduler', 'kubectl', 'kubelet', 'legacy-cloud-providers', 'metrics', 'mount-utils',
  'pod-security-admission', 'sample-apiserver', 'sample-cli-plugin', 'sample-controller',
];

async function buildKubeApiserver(go: GoBuild, workDir: string, output: string): Promise<void> {
  const stagingVersion = kubernetesVersion.replace(/^v1\./, 'v0.');
  const goMod = [
    'module berth.local/kube-apiserver',
    '',
    'go 1.22.0',
    '',
    `require k8s.io/kubernetes ${kubernetesVersion}`,
    '',
    'replace (',
    ...stagingModules.map((m) => `\tk8s.io/${m} => k8s.io/${m} ${stagingVersion}`),
    ')',
    '',
  ].join('\n');
  // The same main as cmd/kube-apiserver in that release.
  const mainGo = `package main

import (
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
`;
  writeFileSync(join(workDir, 'go.mod'), goMod);
  writeFileSync(join(workDir, 'main.go'), mainGo);
  await go.run(['mod', 'tidy'], workDir);
  await go.run(['build', ...buildFlags, '-o', output, '.'], workDir);
}

/**
 * The v1.1.x conformance suites are a Ginkgo test package: `go test -c` of the module's
 * source, copied out of the read-only module cache.
 */
function goTestCompile(module: string, version: string): GoProgram['build'] {
  return async (go, workDir, output) => {
    const info = await go.run(['mod', 'download', '-json', `${module}@${version}`], workDir).then(
      (out) => JSON.parse(out) as { Dir?: string },
      (err: Error) => {
        // `go mod download -json` prints the reason as JSON on stdout.
        const reason = /"Error": "([^"]*)"/.exec(err.message)?.[1] ?? err.message;
        throw new Error(`go mod download ${module}@${version}: ${reason}`);
      },
    );
    if (!info.Dir) throw new Error(`go mod download ${module}@${version}: no directory`);
    const src = join(workDir, 'src');
    await runCommand('cp', ['-r', info.Dir, src]);
    await runCommand('chmod', ['-R', 'u+w', src]);
    await go.run(['test', '-c', ...buildFlags, '-o', output, '.'], src);
  };
}

export const conformanceModule = 'github.com/opencontainers/distribution-spec/conformance';

export const goPrograms = {
  minio: {
    name: 'minio',
    // The last commit on the (now archived) repository; its RELEASE.* tags are not semver.
    version: 'v0.0.0-20260212201848-7aac2a2c5b7c',
    binary: 'minio',
    build: goInstall('github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c'),
  },
  kubeApiserver: { name: 'kube-apiserver', version: kubernetesVersion, binary: 'kube-apiserver', build: buildKubeApiserver },
  oras: { name: 'oras', version: 'v1.3.6', binary: 'oras', build: goInstall('oras.land/oras/cmd/oras@v1.3.6') },
  crane: {
    name: 'crane',
    version: 'v0.22.1',
    binary: 'crane',
    build: goInstall('github.com/google/go-containerregistry/cmd/crane@v0.22.1'),
  },
  helm: { name: 'helm', version: 'v3.22.0', binary: 'helm', build: goInstall('helm.sh/helm/v3/cmd/helm@v3.22.0') },
  conformance: {
    name: 'oci-conformance',
    // distribution-spec main after the rewrite into a `package main` (2026-06).
    version: 'v0.0.0-20260831232431-97274622c111',
    binary: 'conformance',
    build: goInstall(`${conformanceModule}@v0.0.0-20260831232431-97274622c111`),
  },
  conformanceGinkgo: {
    name: 'oci-conformance',
    // The last commit of the Ginkgo suite (the form v1.1.x ships) that the Go module proxy
    // serves here: f2182352d4cc, 2023-11-01, between v1.1.0-rc3 and v1.1.0. Same four
    // workflows and environment as v1.1.1.
    version: 'v0.0.0-20231101194043-f2182352d4cc',
    binary: 'conformance.test',
    build: goTestCompile(conformanceModule, 'v0.0.0-20231101194043-f2182352d4cc'),
  },
  conformanceV111: {
    name: 'oci-conformance',
    // The v1.1.1 tag's commit a139cc423184 (2025-01-23), as the nested module's pseudo-version.
    version: 'v0.0.0-20250123160558-a139cc423184',
    binary: 'conformance.test',
    build: goTestCompile(conformanceModule, 'v0.0.0-20250123160558-a139cc423184'),
  },
} satisfies Record<string, GoProgram>;

export type GoProgramName = keyof typeof goPrograms;

export function toolsCacheDir(): string {
  return process.env.BERTH_TOOLS_CACHE || join(homedir(), '.cache', 'berth', 'tools');
}

/** Finds, installs and builds programs; every method is idempotent and cheap when warm. */
export class Toolbox {
  private aptUpdated = false;

  constructor(
    private readonly progress: Progress,
    private readonly cacheDir: string = toolsCacheDir(),
    /** Aborting kills a Go build in progress (never apt-get). */
    private readonly abort?: AbortSignal,
  ) {}

  /** Absolute path of a Debian program, or undefined when it is not installed. */
  findDebian(name: DebianProgramName): string | undefined {
    return debianPrograms[name].paths().find((path) => existsSync(path));
  }

  /** Installs the Debian packages of the missing programs (one apt-get run), then resolves them. */
  async ensureDebian(names: readonly DebianProgramName[]): Promise<Partial<Record<DebianProgramName, string>>> {
    const missing = [...new Set(names.filter((n) => !this.findDebian(n)).map((n) => debianPrograms[n].package))];
    if (missing.length > 0) await this.aptInstall(missing);
    const found: Partial<Record<DebianProgramName, string>> = {};
    for (const name of names) {
      const path = this.findDebian(name);
      if (!path) {
        throw new Error(
          `${name} not found after installing Debian package ${debianPrograms[name].package}: ` +
            `install it with \`apt-get install ${debianPrograms[name].package}\``,
        );
      }
      found[name] = path;
    }
    return found;
  }

  private async aptInstall(packages: string[]): Promise<void> {
    const hint = `install them with \`apt-get install ${packages.join(' ')}\``;
    if (process.getuid?.() !== 0) {
      throw new Error(`missing Debian packages ${packages.join(', ')} and not running as root: ${hint}`);
    }
    if (!existsSync('/usr/bin/apt-get')) {
      throw new Error(`missing packages ${packages.join(', ')} and this is not a Debian system: ${hint}`);
    }
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const lockWait = ['-o', 'DPkg::Lock::Timeout=600'];
    await this.progress.step(`apt-get install ${packages.join(' ')}`, async () => {
      // Keep package scripts from starting the system's own PostgreSQL or Redis: the test
      // environment starts clusters of its own and never touches the system ones.
      const policy = '/usr/sbin/policy-rc.d';
      const ownPolicy = !existsSync(policy);
      if (ownPolicy) writeFileSync(policy, '#!/bin/sh\n# written by berth e2e/env while installing\nexit 101\n', { mode: 0o755 });
      try {
        if (!this.aptUpdated) {
          await runCommand('apt-get', [...lockWait, 'update'], { env });
          this.aptUpdated = true;
        }
        // Never aborted: a killed dpkg leaves the system half configured.
        await runCommand('apt-get', [...lockWait, 'install', '-y', '--no-install-recommends', ...packages], { env });
      } catch (err) {
        throw new Error(`${(err as Error).message}\n${hint}`);
      } finally {
        if (ownPolicy) rmSync(policy, { force: true });
      }
    });
  }

  /** Path of a pinned Go program, built into the cache when it is not there yet. */
  async ensureGo(program: GoProgram): Promise<string> {
    const dir = join(this.cacheDir, `${program.name}@${program.version}`);
    const binary = join(dir, 'bin', program.binary);
    if (existsSync(binary)) return binary;
    const go = this.findGo();
    mkdirSync(this.cacheDir, { recursive: true });
    await this.withLock(`${dir}.lock`, program.name, () => existsSync(binary), async () => {
      await this.progress.step(`build ${program.name}@${program.version} (cold build, once)`, async () => {
        // Build in a scratch directory and rename: a half-built tool is never visible.
        const scratch = `${dir}.partial-${process.pid}`;
        rmSync(scratch, { recursive: true, force: true });
        mkdirSync(join(scratch, 'bin'), { recursive: true });
        const work = join(scratch, 'work');
        mkdirSync(work);
        const gobin = join(scratch, 'bin');
        const build: GoBuild = {
          run: async (args, cwd) => (await runCommand(go, args, { cwd, env: goEnv(gobin), abort: this.abort })).stdout,
        };
        try {
          await program.build(build, work, join(gobin, program.binary));
          if (!existsSync(join(gobin, program.binary))) {
            throw new Error(`building ${program.name} produced no ${program.binary}`);
          }
          rmSync(work, { recursive: true, force: true });
          rmSync(dir, { recursive: true, force: true });
          renameSync(scratch, dir);
        } catch (err) {
          rmSync(scratch, { recursive: true, force: true });
          throw err;
        }
      });
    });
    return binary;
  }

  private findGo(): string {
    const candidates = [
      ...(process.env.PATH ?? '').split(':').filter(Boolean).map((d) => join(d, 'go')),
      '/usr/local/go/bin/go',
    ];
    const go = candidates.find((path) => existsSync(path));
    if (!go) {
      throw new Error(
        'the Go toolchain (1.24 or newer) is needed to build the pinned tools (MinIO, kube-apiserver, ' +
          'oras, crane, helm, the OCI conformance suites): install Go and put `go` on PATH',
      );
    }
    return go;
  }

  /**
   * One builder per tool across concurrent test runs: a lock file holding the builder's pid.
   * Waiting ends when the lock is free (or its holder died), or when `done` says the other
   * run's build is in place.
   */
  private async withLock(lockFile: string, what: string, done: () => boolean, work: () => Promise<void>): Promise<void> {
    let announced = false;
    for (;;) {
      if (done()) return;
      try {
        writeFileSync(lockFile, String(process.pid), { flag: 'wx' });
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      let holder = Number(readIfExists(lockFile).trim());
      if (!holder) {
        // The holder may be between creating the file and writing its pid.
        await new Promise((resolve) => setTimeout(resolve, 500));
        holder = Number(readIfExists(lockFile).trim());
      }
      if (!holder || !isAlive(holder)) {
        rmSync(lockFile, { force: true });
        continue;
      }
      if (!announced) this.progress.line(`waiting for another run (pid ${holder}) that is building ${what}`);
      announced = true;
      this.abort?.throwIfAborted();
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
    try {
      if (!done()) await work();
    } finally {
      rmSync(lockFile, { force: true });
    }
  }
}

function readIfExists(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function goEnv(gobin: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GOBIN: gobin,
    GOFLAGS: '-buildvcs=false',
    // Never fetch another toolchain; the module proxy (GOPROXY default) is the only source.
    GOTOOLCHAIN: 'local',
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
