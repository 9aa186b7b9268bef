/**
 * Issue 4 acceptance with real Berth processes, auth on, on the embedded backends
 * (filesystem, PGlite, memory) and the production ones (MinIO, Postgres, Redis):
 * forged and misused tokens, real clients logging in as a user and as a robot, anonymous
 * pull/push rules, the OCI conformance suite with credentials, and, after all of that, no
 * password, robot secret or token in the registry's logs.
 */
import { expect } from 'chai';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { testEnv } from '../env/test-env.ts';
import type { Backends } from '../lib/berth.ts';
import { expectGinkgoSuitePasses } from '../lib/conformance.ts';
import { readJunit } from '../lib/junit.ts';
import { run } from '../lib/run.ts';
import { apiExpect, createAccounts, startAuthBerth, type Accounts, type AuthBerth } from './auth-berth.ts';
import { clientScenarios } from './clients.ts';
import { tokenScenarios } from './tokens.ts';

const JWT = /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/;

for (const backends of ['embedded', 'production'] as Backends[]) {
  describe(`auth on, ${backends} backends`, function () {
    this.timeout(20 * 60_000);
    let auth: AuthBerth;
    let accounts: Accounts;
    let dir: string;
    const state = () => ({ auth, accounts, dir });

    before(async function () {
      dir = join(testEnv().workDir, `auth-${backends}`);
      auth = await startAuthBerth(backends, join(dir, 'berth'));
      accounts = await createAccounts(auth, 'team');
    });
    after(async function () {
      await auth?.berth.stop();
    });

    tokenScenarios(backends, state);
    clientScenarios(backends, state);

    describe('OCI conformance with credentials', function () {
      for (const version of ['1.1', 'dev']) {
        it(`passes the current suite (profile ${version}) as a logged-in user with zero failures`, async function () {
          const results = join(dir, `conformance-${version}`);
          await mkdir(results, { recursive: true });
          const out = await run(testEnv().tools.conformance, [], {
            cwd: results,
            allowFailure: true,
            env: {
              OCI_REGISTRY: auth.berth.host,
              OCI_TLS: 'disabled',
              OCI_VERSION: version,
              OCI_USERNAME: auth.admin.username,
              OCI_PASSWORD: auth.admin.password,
              OCI_REPO1: `library/conformance-${version}-1`,
              OCI_REPO2: `library/conformance-${version}-2`,
              OCI_RESULTS_DIR: results,
              OCI_LOG: 'warn',
            },
          });
          const summary = await readJunit(join(results, 'junit.xml'));
          console.log(`      conformance ${version} with auth: ${summary.tests} tests, ${summary.failures} failed, ${summary.skipped} skipped`);
          expect(summary.failed, `${out.stdout.slice(-4000)}\n${out.stderr.slice(-4000)}`).to.deep.equal([]);
          expect(summary.tests).to.be.greaterThan(100);
          expect(out.code, out.stdout.slice(-2000)).to.equal(0);
        });
      }

      it('passes the Ginkgo suite (2023-11-01) as a logged-in user with zero failures; mounts from another repository work with tokens', async function () {
        const summary = await expectGinkgoSuitePasses(testEnv().tools.conformanceGinkgo, {
          host: auth.berth.host,
          dir,
          namespace: 'library/conformance-ginkgo',
          credentials: { username: auth.admin.username, password: auth.admin.password },
          automaticMounts: false,
        });
        console.log(`      Ginkgo suite with auth: ${summary.tests} tests, ${summary.failures} failed, ${summary.skipped} skipped`);
      });
    });

    describe('audit', function () {
      it('recorded the pushes and pulls of the user and the robot, and the failed login', async function () {
        const { developer, robot, project } = accounts;
        type Entry = { username: string; operation: string; resource: string; outcome: string; project: string | null };
        const entriesOf = async (username: string): Promise<Entry[]> =>
          (await apiExpect(auth.berth, auth.admin, 200, 'GET', `/audit-logs?page_size=100&q=${encodeURIComponent(`username=${username}`)}`)).body;
        let entries: Entry[] = [];
        // The sink writes in the background: give it a moment.
        for (let attempt = 0; attempt < 50; attempt++) {
          entries = [...(await entriesOf(developer.username)), ...(await entriesOf(robot.username))];
          if (entries.some((e) => e.username === robot.username && e.operation === 'pull')) break;
          await new Promise((r) => setTimeout(r, 200));
        }
        // Filtered by user: nobody else's entries came back.
        expect(entries.every((e) => e.username === developer.username || e.username === robot.username)).to.equal(true);
        const has = (username: string, operation: string, outcome = 'success') =>
          entries.some((e) => e.username === username && e.operation === operation && e.outcome === outcome);
        expect(has(developer.username, 'push'), 'developer push').to.equal(true);
        expect(has(robot.username, 'pull'), 'robot pull').to.equal(true);
        expect(has(robot.username, 'push'), 'robot push').to.equal(true);
        expect(has(developer.username, 'login', 'failure'), 'failed login').to.equal(true);
        expect(entries.filter((e) => e.operation === 'push' && e.username === developer.username).every((e) => e.project === project)).to.equal(true);
      });
    });

    describe('logs', function () {
      it('hold no password, robot secret or token after all of the above', async function () {
        const output = auth.berth.output();
        // The flows above did run and were logged (the search below is not over an empty log).
        expect(output).to.include('registry listening');
        expect(output).to.include('initial system administrator created');
        expect(auth.secrets.size).to.be.greaterThan(5);
        for (const secret of auth.secrets) {
          expect(output.includes(secret), `a secret of ${secret.length} characters appears in the log`).to.equal(false);
          expect(output.includes(Buffer.from(secret).toString('base64')), 'a secret appears base64-encoded').to.equal(false);
        }
        expect(JWT.exec(output)?.[0].slice(0, 12), 'a JWT appears in the log').to.equal(undefined);
        expect(output).to.not.match(/authorization":"(Basic|Bearer) /i);
      });
    });
  });
}
