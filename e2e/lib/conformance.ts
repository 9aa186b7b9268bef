/**
 * The Ginkgo form of the OCI conformance suite (v1.1.x, `go test -c`), run with every workflow
 * on and the automatic-mount test on, and checked: no failure, nothing skipped but the branch of
 * an either-or that was not taken, exit code 0.
 */
import { expect } from 'chai';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readJunit, type JunitSummary } from './junit.ts';
import { run } from './run.ts';

/**
 * The suite skips the branch of each either-or it did not take: a tag named in the
 * environment, a mount answered 202 instead of 201, automatic mounts disabled, tags set up
 * without pushing. Anything else skipped means a workflow did not run.
 */
function eitherOrBranches(automaticMounts: boolean): string[] {
  return [
    'Pull Setup Get tag name from environment',
    'Cross-mounting of nonexistent blob should yield session id',
    automaticMounts
      ? 'Cross-mounting without from, and automatic content discovery disabled should return a 202'
      : 'Cross-mounting without from, and automatic content discovery enabled should return a 201',
    'Content Discovery Setup Populate registry with test tags (no push)',
  ];
}

export interface GinkgoRun {
  /** host:port of the registry, plain HTTP. */
  host: string;
  /** Where the results directory goes. */
  dir: string;
  /** The suite's repositories are `<namespace>/repo1` and `<namespace>/repo2`. */
  namespace: string;
  credentials?: { username: string; password: string };
  /**
   * Whether a mount without `from` links a blob stored elsewhere (automatic content
   * discovery): on without access control, off with it (a digest alone must not open
   * another project's blobs).
   */
  automaticMounts: boolean;
}

export async function expectGinkgoSuitePasses(binary: string, options: GinkgoRun): Promise<JunitSummary> {
  expect(binary, 'the Ginkgo conformance binary: the setup built none').to.be.a('string').that.is.not.empty;
  const results = join(options.dir, `results-${options.namespace.replaceAll('/', '-')}`);
  await mkdir(results, { recursive: true });
  const out = await run(binary, [], {
    cwd: results,
    allowFailure: true,
    env: {
      OCI_ROOT_URL: `http://${options.host}`,
      OCI_NAMESPACE: `${options.namespace}/repo1`,
      OCI_CROSSMOUNT_NAMESPACE: `${options.namespace}/repo2`,
      ...(options.credentials ? { OCI_USERNAME: options.credentials.username, OCI_PASSWORD: options.credentials.password } : {}),
      OCI_TEST_PULL: '1',
      OCI_TEST_PUSH: '1',
      OCI_TEST_CONTENT_DISCOVERY: '1',
      OCI_TEST_CONTENT_MANAGEMENT: '1',
      OCI_AUTOMATIC_CROSSMOUNT: options.automaticMounts ? '1' : '0',
      OCI_HIDE_SKIPPED_WORKFLOWS: '0',
      OCI_REPORT_DIR: results,
    },
  });
  const summary = await readJunit(join(results, 'junit.xml'));
  const log = `${out.stdout.slice(-4000)}\n${out.stderr.slice(-4000)}`;
  expect(summary.failed, log).to.deep.equal([]);
  const branches = eitherOrBranches(options.automaticMounts);
  const unexpectedSkips = summary.skippedNames.filter((name) => !branches.some((branch) => name.endsWith(branch)));
  expect(unexpectedSkips, 'skipped beyond the either-or branches').to.deep.equal([]);
  expect(summary.tests - summary.skipped, 'specs that ran').to.be.greaterThan(70);
  expect(out.code, log).to.equal(0);
  return summary;
}
