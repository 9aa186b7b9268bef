/** Media types the registry understands (OCI image-spec v1.1 and Docker schema 2). */
export const mediaTypes = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  octetStream: 'application/octet-stream',
} as const;

export type ManifestKind = 'image' | 'index';

/** What a manifest media type is, or undefined when the registry does not accept it as a manifest. */
export function manifestKind(mediaType: string): ManifestKind | undefined {
  switch (mediaType) {
    case mediaTypes.ociManifest:
    case mediaTypes.dockerManifest:
      return 'image';
    case mediaTypes.ociIndex:
    case mediaTypes.dockerManifestList:
      return 'index';
    default:
      return undefined;
  }
}
