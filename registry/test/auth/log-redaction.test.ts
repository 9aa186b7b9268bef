import { expect } from 'chai';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { AUTH_LOG_REDACT_PATHS, scrubCredentials } from '../../src/auth/log-redaction.ts';
import { generateSigningKey } from '../../src/auth/keys.ts';
import { TokenIssuer } from '../../src/auth/tokens.ts';

describe('auth/log-redaction', () => {
  it('pino with the redact paths drops every credential field (real pino, captured output)', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = pino({ redact: { paths: [...AUTH_LOG_REDACT_PATHS], censor: '[redacted]' } }, sink);
    const basic = `Basic ${Buffer.from('alice:hunter2-Secret').toString('base64')}`;
    logger.info({ req: { method: 'GET', url: '/v2/', headers: { authorization: basic, cookie: 'sid=session-cookie-value', 'proxy-authorization': 'Basic cHJveHk6cHc=' } } }, 'request');
    logger.info({ password: 'hunter2-Secret', user: 'alice' }, 'login');
    logger.info({ body: { refresh_token: 'refresh-value', access_token: 'access-value', token: 'token-value' } }, 'token issued');
    logger.info({ robot: { name: 'robot$p+ci', secret: 'robot-secret-value' } }, 'robot created');
    await new Promise((resolve) => setImmediate(resolve));
    const output = lines.join('');
    expect(lines).to.have.length(4);
    for (const secret of ['hunter2-Secret', basic.slice(6), 'session-cookie-value', 'cHJveHk6cHc=', 'refresh-value', 'access-value', 'token-value', 'robot-secret-value']) {
      expect(output).to.not.include(secret);
    }
    expect(output).to.include('alice').and.include('robot$p+ci').and.include('[redacted]');
  });

  it('scrubs credentials out of free text', async () => {
    const key = await generateSigningKey('ES256');
    const { token } = await new TokenIssuer({ issuer: 'i', signingKey: key }).issueAccessToken({ subject: 's', audience: 'a', access: [] });
    const text = [
      `Authorization: Basic ${Buffer.from('u:p').toString('base64')}`,
      `header Bearer ${token}`,
      `bare ${token}`,
      'GET /service/token?service=x&refresh_token=abc.def&scope=repository:a/b:pull',
      'redis://:redis-pass@127.0.0.1:6379/0 postgres://berth:pg-pass@db:5432/berth',
    ].join('\n');
    const scrubbed = scrubCredentials(text);
    expect(scrubbed).to.not.include(token.split('.')[1] as string);
    expect(scrubbed).to.not.include(Buffer.from('u:p').toString('base64'));
    expect(scrubbed).to.not.include('abc.def');
    expect(scrubbed).to.not.include('redis-pass');
    expect(scrubbed).to.not.include('pg-pass');
    expect(scrubbed).to.include('Basic [redacted]').and.include('Bearer [redacted]').and.include('[redacted-jwt]');
    expect(scrubbed).to.include('service=x').and.include('scope=repository:a/b:pull').and.include('postgres://berth:[redacted]@db:5432');
  });
});
