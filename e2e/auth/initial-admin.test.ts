/**
 * The initial administrator when no password is configured: generated and printed once at
 * the first start, even when two replicas start at once on the same database (one creates
 * it, the other finds it taken and starts normally); a restart prints nothing.
 */
import { expect } from 'chai';
import { join } from 'node:path';
import { testEnv } from '../env/test-env.ts';
import { createProductionBackends, startBerth, type BerthProcess } from '../lib/berth.ts';
import { freePort } from '../lib/net.ts';
import { api } from './auth-berth.ts';

const PRINTED = /Initial administrator created: user "admin", password: (\S+)/;

describe('auth on: the generated initial administrator (production backends, two replicas)', function () {
  this.timeout(5 * 60_000);
  const started: BerthProcess[] = [];
  after(async function () {
    await Promise.all(started.map((b) => b.stop()));
  });

  it('is created by exactly one of two replicas starting together, printed once outside the JSON log, and works', async function () {
    const production = await createProductionBackends('initial_admin');
    const dir = join(testEnv().workDir, 'auth-initial-admin');
    const start = async (name: string) => {
      const port = await freePort();
      const berth = await startBerth({
        backends: 'production',
        production,
        dir: join(dir, name),
        port,
        extraConfig: { http: { address: '127.0.0.1', port, externalURL: `http://127.0.0.1:${port}` }, auth: { enabled: true } },
      });
      started.push(berth);
      return berth;
    };
    const [a, b] = await Promise.all([start('a'), start('b')]);
    const printed = [a, b].map((berth) => PRINTED.exec(berth.output())?.[1]).filter((p): p is string => p !== undefined);
    expect(printed, `${a.output()}\n----\n${b.output()}`).to.have.length(1);
    const password = printed[0]!;
    const createdLines = [a, b].flatMap((berth) => berth.output().split('\n').filter((l) => l.includes('initial system administrator created')));
    expect(createdLines, 'one replica logs the creation').to.have.length(1);
    // Printed on its own, never inside a JSON log line.
    for (const berth of [a, b]) {
      for (const line of berth.output().split('\n').filter((l) => l.startsWith('{'))) expect(line.includes(password)).to.equal(false);
    }
    for (const berth of [a, b]) {
      const me = await api(berth, { username: 'admin', password }, 'GET', '/users/current');
      expect(me.status, JSON.stringify(me.body)).to.equal(200);
      expect(me.body.sysadmin_flag).to.equal(true);
    }

    await a.stop();
    started.splice(started.indexOf(a), 1);
    const again = await start('a-again');
    expect(PRINTED.test(again.output()), 'a restart prints no password').to.equal(false);
    const me = await api(again, { username: 'admin', password }, 'GET', '/users/current');
    expect(me.status).to.equal(200);
  });
});
