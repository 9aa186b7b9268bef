import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Client } from 'minio';
import { testEnv } from '../env/test-env.ts';

describe('smoke: MinIO of this run', () => {
  it('puts and gets an object in the bucket through the minio client', async () => {
    const { endPoint, port, useSSL, accessKey, secretKey, bucket } = testEnv().minio;
    assert.equal(endPoint, '127.0.0.1');
    const client = new Client({ endPoint, port, useSSL, accessKey, secretKey });
    assert.equal(await client.bucketExists(bucket), true);
    const name = `smoke/${randomBytes(6).toString('hex')}`;
    const body = randomBytes(100_000);
    await client.putObject(bucket, name, body, body.length);
    const chunks: Buffer[] = [];
    for await (const chunk of await client.getObject(bucket, name)) chunks.push(chunk as Buffer);
    assert.ok(Buffer.concat(chunks).equals(body), 'object read back differs');
    assert.equal((await client.statObject(bucket, name)).size, body.length);
    await client.removeObject(bucket, name);
    await assert.rejects(client.statObject(bucket, name), /Not Found|NoSuchKey/);
  });

  it('rejects a wrong secret key', async () => {
    const { endPoint, port, useSSL, accessKey, bucket } = testEnv().minio;
    const client = new Client({ endPoint, port, useSSL, accessKey, secretKey: 'not-the-secret' });
    await assert.rejects(client.bucketExists(bucket));
  });
});
