/** The driver suite and S3-specific behaviour, against the real MinIO started by e2e/env. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { Client } from 'minio';
import { testEnv } from '../../../e2e/env/test-env.ts';
import { S3Driver } from '../../src/storage/s3.ts';
import { describeDriverSuite, readAll } from './driver-suite.ts';

const runId = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
const runPrefix = `driver-test/${runId}`;
let counter = 0;

function minio() {
  return testEnv().minio;
}

function rawClient(): Client {
  const { endPoint, port, useSSL, accessKey, secretKey } = minio();
  return new Client({ endPoint, port, useSSL, accessKey, secretKey });
}

/** Delete everything under `<runPrefix>/<name>` with a driver of its own. */
async function removeTestPrefix(name: string): Promise<void> {
  const sweeper = new S3Driver({ ...minio(), prefix: runPrefix });
  try {
    await sweeper.deletePrefix(name);
  } finally {
    await sweeper.close();
  }
}

async function incompleteUploads(client: Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const upload of client.listIncompleteUploads(bucket, prefix, true)) keys.push((upload as { key: string }).key);
  return keys;
}

describeDriverSuite(
  's3 (MinIO)',
  async () => {
    const name = `t${counter++}`;
    const driver = new S3Driver({ ...minio(), prefix: `${runPrefix}/${name}` });
    await driver.ensureBucket();
    return { driver, cleanup: () => removeTestPrefix(name) };
  },
  // Two 16 MiB part buffers (one uploading, one filling) plus garbage: measured 34-44 MiB of
  // growth, well under half of 192 MiB. A failure after 40 MiB is mid-multipart-upload.
  { largeObjectSize: 192 * 1024 * 1024, failAfterBytes: 40 * 1024 * 1024, appends: false },
);

describe('S3Driver specifics (MinIO)', function () {
  const name = 'specifics';
  const prefix = `${runPrefix}/${name}`;
  let driver: S3Driver;

  beforeEach(async function () {
    driver = new S3Driver({ ...minio(), prefix });
    await driver.ensureBucket();
  });
  afterEach(async function () {
    await driver.close();
    await removeTestPrefix(name);
  });

  it('stores object "a/b" under the key <prefix>/a/b', async function () {
    await driver.put('a/b', Buffer.from('keyed'));
    const stream = await rawClient().getObject(minio().bucket, `${prefix}/a/b`);
    assert.equal((await readAll(stream)).toString(), 'keyed');
  });

  it('aborts the multipart upload when the source stream fails, leaving no parts behind', async function () {
    this.timeout(120_000);
    let sent = 0;
    const failing = new Readable({
      read() {
        if (sent >= 40 * 1024 * 1024) return void this.destroy(new Error('client went away'));
        sent += 1024 * 1024;
        this.push(randomBytes(1024 * 1024));
      },
    });
    await assert.rejects(driver.put('mp/failed', failing));
    assert.equal(await driver.stat('mp/failed'), undefined);
    assert.deepEqual(await incompleteUploads(rawClient(), minio().bucket, `${prefix}/`), []);
  });

  it('round-trips streams at every part boundary (exact part, one byte over, two parts, just past small)', async function () {
    this.timeout(120_000);
    const partSize = 5 * 1024 * 1024;
    const parted = new S3Driver({ ...minio(), prefix: `${prefix}/parted`, partSize });
    try {
      for (const size of [1024 * 1024, 1024 * 1024 + 1, partSize - 1, partSize, partSize + 1, 2 * partSize, 3 * partSize + 12_345]) {
        const body = randomBytes(size);
        // Odd chunk sizes, so part boundaries fall inside chunks.
        const chunks: Buffer[] = [];
        for (let at = 0; at < size; at += 77_777) chunks.push(body.subarray(at, at + 77_777));
        assert.equal(await parted.put(`s/${size}`, Readable.from(chunks)), size);
        const back = await readAll(await parted.read(`s/${size}`));
        assert.equal(back.length, size);
        assert.ok(back.equals(body), `content differs for ${size} bytes`);
      }
      // A Buffer body larger than a part goes up as parts too, sliced without copying.
      const buffer = randomBytes(2 * partSize + 999);
      assert.equal(await parted.put('buffer', buffer), buffer.length);
      assert.ok((await readAll(await parted.read('buffer'))).equals(buffer));
      assert.deepEqual(await incompleteUploads(rawClient(), minio().bucket, `${prefix}/`), []);
    } finally {
      await parted.close();
    }
  });

  it('keeps drivers with different prefixes apart', async function () {
    const other = new S3Driver({ ...minio(), prefix: `${prefix}/other` });
    try {
      await driver.put('mine', Buffer.from('1'));
      await other.put('theirs', Buffer.from('2'));
      assert.deepEqual((await other.list('')).map((o) => o.path), ['theirs']);
      assert.equal(await other.stat('mine'), undefined);
    } finally {
      await other.close();
    }
  });

  it('gives a presigned URL that serves the object', async function () {
    await driver.put('r/obj', Buffer.from('via redirect'));
    const response = await fetch(await driver.redirectURL('r/obj', 60));
    assert.equal(response.status, 200);
    assert.equal(await response.text(), 'via redirect');
  });

  it('ensureBucket creates a missing bucket and is idempotent', async function () {
    const bucket = `berth-ensure-${runId}`;
    const own = new S3Driver({ ...minio(), bucket });
    try {
      await own.ensureBucket();
      await own.ensureBucket();
      assert.equal(await rawClient().bucketExists(bucket), true);
      await own.put('x', Buffer.from('y'));
      assert.equal((await own.stat('x'))?.size, 1);
      await own.delete('x');
    } finally {
      await own.close();
      await rawClient().removeBucket(bucket);
    }
  });

  it('rejects an invalid prefix or part size at construction', function () {
    assert.throws(() => new S3Driver({ ...minio(), prefix: 'a/../b' }), /invalid storage path/);
    assert.throws(() => new S3Driver({ ...minio(), partSize: 1024 }), /partSize/);
  });
});
