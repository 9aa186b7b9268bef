import { expect } from 'chai';
import { RegistryError } from '../../src/errors.ts';
import { parseManifest } from '../../src/oci/manifest.ts';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const config = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: d('a'), size: 10 };
const layer = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d('b'), size: 20 };

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

function codeOf(work: () => unknown): string | undefined {
  try {
    work();
  } catch (err) {
    return err instanceof RegistryError ? err.code : 'not a RegistryError';
  }
  return undefined;
}

describe('oci manifest parsing', function () {
  it('extracts blobs, subject, artifactType and annotations of an image manifest', function () {
    const parsed = parseManifest(
      json({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: [layer, layer], subject: { ...layer, digest: d('c') }, annotations: { a: 'b' }, extra: { ignored: true } }),
      'application/vnd.oci.image.manifest.v1+json',
    );
    expect(parsed.kind).to.equal('image');
    expect(parsed.blobs).to.deep.equal([d('a'), d('b')]);
    expect(parsed.subject?.digest).to.equal(d('c'));
    expect(parsed.artifactType).to.equal(config.mediaType);
    expect(parsed.annotations).to.deep.equal({ a: 'b' });
  });

  it('prefers artifactType over the config media type', function () {
    const parsed = parseManifest(json({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', artifactType: 'application/x.sbom', config, layers: [] }), undefined);
    expect(parsed.artifactType).to.equal('application/x.sbom');
  });

  it('lists child manifests of an index and Docker manifest list', function () {
    const index = parseManifest(json({ schemaVersion: 2, manifests: [{ ...layer, mediaType: 'application/vnd.oci.image.manifest.v1+json' }] }), 'application/vnd.oci.image.index.v1+json');
    expect(index).to.deep.include({ kind: 'index', manifests: [d('b')], blobs: [] });
    const list = parseManifest(json({ schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json', manifests: [] }), undefined);
    expect(list.kind).to.equal('index');
  });

  it('skips non-distributable layers that carry urls', function () {
    const parsed = parseManifest(json({ schemaVersion: 2, config, layers: [{ ...layer, urls: ['https://example.com/x'] }] }), 'application/vnd.oci.image.manifest.v1+json');
    expect(parsed.blobs).to.deep.equal([d('a')]);
  });

  it('refuses what is not a valid manifest with MANIFEST_INVALID', function () {
    const cases: Array<[Buffer, string | undefined]> = [
      [Buffer.from('not json'), undefined],
      [json([1]), undefined],
      [json({ schemaVersion: 2 }), 'application/json'],
      [json({ schemaVersion: 1, fsLayers: [] }), 'application/vnd.docker.distribution.manifest.v1+prettyjws'],
      [json({ schemaVersion: 3, config, layers: [] }), 'application/vnd.oci.image.manifest.v1+json'],
      [json({ schemaVersion: 2, config: { ...config, digest: 'sha256:1' }, layers: [] }), 'application/vnd.oci.image.manifest.v1+json'],
      [json({ schemaVersion: 2, config: { ...config, size: -1 }, layers: [] }), 'application/vnd.oci.image.manifest.v1+json'],
      [json({ schemaVersion: 2, config, layers: {} }), 'application/vnd.oci.image.manifest.v1+json'],
      [json({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] }), 'application/vnd.oci.image.manifest.v1+json'],
      [json({ schemaVersion: 2, config, layers: [], annotations: { a: 1 } }), 'application/vnd.oci.image.manifest.v1+json'],
    ];
    for (const [content, type] of cases) expect(codeOf(() => parseManifest(content, type)), content.toString()).to.equal('MANIFEST_INVALID');
  });
});
