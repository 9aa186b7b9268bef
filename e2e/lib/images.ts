/**
 * Builds real test images on disk, with no network: an OCI image layout whose layers are
 * gzip-compressed tar archives of generated files (made by the system `tar`), as a client
 * would push them.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { run } from './run.ts';

export interface LayoutImage {
  /** The OCI layout directory. */
  dir: string;
  tag: string;
  manifestDigest: string;
  /** Layer digests (compressed), in order. */
  layers: string[];
  configDigest: string;
}

const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

async function writeBlob(dir: string, data: Buffer): Promise<{ digest: string; size: number }> {
  const digest = sha256(data);
  await writeFile(join(dir, 'blobs', 'sha256', digest.slice(7)), data);
  return { digest, size: data.length };
}

/** Creates a tar.gz layer holding `files` random files of `fileSize` bytes each. */
export async function makeLayer(workDir: string, index: number, files = 3, fileSize = 64 * 1024): Promise<Buffer> {
  const root = join(workDir, `layer-${index}`);
  await mkdir(join(root, `dir${index}`), { recursive: true });
  for (let f = 0; f < files; f++) await writeFile(join(root, `dir${index}`, `file${f}.bin`), randomBytes(fileSize));
  const archive = join(workDir, `layer-${index}.tar.gz`);
  await run('tar', ['-czf', archive, '-C', root, '.']);
  const data = await readFile(archive);
  await rm(root, { recursive: true, force: true });
  return data;
}

/** An OCI image layout with `layerCount` real tar.gz layers, tagged `tag`. */
export async function makeOciLayout(dir: string, tag: string, layerCount = 3): Promise<LayoutImage> {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  const work = join(dir, '..', `${tag}-work`);
  await mkdir(work, { recursive: true });
  const layers: Array<{ digest: string; size: number; diffId: string }> = [];
  for (let i = 0; i < layerCount; i++) {
    const gz = await makeLayer(work, i);
    const blob = await writeBlob(dir, gz);
    layers.push({ ...blob, diffId: sha256(gunzipSync(gz)) });
  }
  await rm(work, { recursive: true, force: true });
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Env: ['PATH=/usr/bin'], Cmd: ['/bin/true'] },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: layers.map(() => ({ created_by: 'berth e2e' })),
    }),
  );
  const configBlob = await writeBlob(dir, config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...configBlob },
      layers: layers.map((l) => ({
        mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        digest: l.digest,
        size: l.size,
      })),
    }),
  );
  const manifestBlob = await writeBlob(dir, manifest);
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...manifestBlob,
          annotations: { 'org.opencontainers.image.ref.name': tag },
        },
      ],
    }),
  );
  return {
    dir,
    tag,
    manifestDigest: manifestBlob.digest,
    layers: layers.map((l) => l.digest),
    configDigest: configBlob.digest,
  };
}

/** Bytes of a blob in an OCI layout. */
export function layoutBlob(dir: string, digest: string): Promise<Buffer> {
  const [algorithm, hex] = digest.split(':');
  return readFile(join(dir, 'blobs', algorithm!, hex!));
}
