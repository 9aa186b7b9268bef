/**
 * Repositories, artifacts and tags of a project (Harbor paths). The repository name in the
 * path omits the project and has its slashes encoded twice (a%252Fb), as Harbor expects.
 * Deletes go through the ManifestService so /v2's caches forget what is gone.
 */
import { isValidTag, tryParseDigest } from '../../oci/grammar.ts';
import type { ApiContext, ApiRequest, Handler } from '../context.ts';
import { ApiError } from '../errors.ts';
import { pagedResult, pageOf, parseQ, termText } from '../paging.ts';
import { requireProject, type ProjectAccess } from '../policy.ts';
import { presentArtifact, presentRepository, presentTag } from '../present.ts';
import { API_PREFIX } from '../operations.ts';
import { param } from './params.ts';
import { location, recordChange } from './record.ts';
import type { ProjectResource, Action } from '../../auth/permissions.ts';
import type { ArtifactSummary } from '../../metadata/store.ts';

async function projectFor(request: ApiRequest, context: ApiContext, resource: ProjectResource, action: Action): Promise<ProjectAccess> {
  return requireProject(request, context, param(request, 'project_name'), resource, action, 'name');
}

function repositoryName(request: ApiRequest, project: string): string {
  let name = param(request, 'repository_name');
  try {
    // The router decoded once; Harbor clients encode slashes twice.
    name = decodeURIComponent(name);
  } catch {
    throw new ApiError('BAD_REQUEST', 'repository_name is not validly encoded');
  }
  return `${project}/${name}`;
}

async function artifactFor(request: ApiRequest, context: ApiContext, repository: string): Promise<ArtifactSummary> {
  const reference = param(request, 'reference');
  let digest: string | undefined;
  if (tryParseDigest(reference)) digest = reference;
  else if (isValidTag(reference)) digest = await context.metadata.resolveTag(repository, reference);
  else throw new ApiError('BAD_REQUEST', 'reference: a digest or a tag');
  const artifact = digest === undefined ? undefined : await context.metadata.getArtifact(repository, digest);
  if (artifact === undefined) throw new ApiError('NOT_FOUND', `artifact ${repository}@${reference} not found`);
  return artifact;
}

export const listRepositories: Handler = async (request, context) => {
  const { project } = await projectFor(request, context, 'repository', 'list');
  const page = pageOf(request.query);
  const name = termText(parseQ(request.query, ['name']).get('name'));
  const { items, total } = await context.metadata.listProjectRepositories(project.name, name ? { name } : {}, page);
  return pagedResult(request, items.map((r) => presentRepository(r, project.id)), total, page);
};

export const getRepository: Handler = async (request, context) => {
  const { project } = await projectFor(request, context, 'repository', 'read');
  const name = repositoryName(request, project.name);
  const repository = await context.metadata.getRepository(name);
  if (repository === undefined) throw new ApiError('NOT_FOUND', `repository ${name} not found`);
  return { status: 200, body: presentRepository(repository, project.id) };
};

export const deleteRepository: Handler = async (request, context) => {
  const { project } = await projectFor(request, context, 'repository', 'delete');
  const name = repositoryName(request, project.name);
  if ((await context.metadata.getRepository(name)) === undefined) throw new ApiError('NOT_FOUND', `repository ${name} not found`);
  await purgeRepository(context, name);
  recordChange(request, context, 'delete', 'repository', name, project.name);
  return { status: 200 };
};

export const listArtifacts: Handler = async (request, context) => {
  const { project } = await projectFor(request, context, 'artifact', 'list');
  const name = repositoryName(request, project.name);
  const page = pageOf(request.query);
  const listed = await context.metadata.listArtifacts(name, {}, page);
  if (listed === undefined) throw new ApiError('NOT_FOUND', `repository ${name} not found`);
  return pagedResult(request, listed.items.map((a) => presentArtifact(a, project.id)), listed.total, page);
};

export const getArtifact: Handler = async (request, context) => {
  const { project } = await projectFor(request, context, 'artifact', 'read');
  const artifact = await artifactFor(request, context, repositoryName(request, project.name));
  return { status: 200, body: presentArtifact(artifact, project.id) };
};

export const deleteArtifact: Handler = async (request, context) => {
  const { project } = await projectFor(request, context, 'artifact', 'delete');
  const name = repositoryName(request, project.name);
  const artifact = await artifactFor(request, context, name);
  await deleteManifest(context, name, artifact.digest);
  recordChange(request, context, 'delete', 'artifact', `${name}@${artifact.digest}`, project.name);
  return { status: 200 };
};

export const listTags: Handler = async (request, context) => {
  const { project } = await projectFor(request, context, 'tag', 'list');
  const artifact = await artifactFor(request, context, repositoryName(request, project.name));
  const page = pageOf(request.query);
  const tags = artifact.tags.slice((page.page - 1) * page.pageSize, page.page * page.pageSize);
  return pagedResult(request, tags.map(presentTag), artifact.tags.length, page);
};

export const createTag: Handler = async (request, context) => {
  const { project } = await projectFor(request, context, 'tag', 'create');
  const name = repositoryName(request, project.name);
  const artifact = await artifactFor(request, context, name);
  const tag = (request.body as { name: string }).name;
  if (!isValidTag(tag)) throw new ApiError('BAD_REQUEST', `invalid tag ${tag.slice(0, 128)}`);
  if ((await context.metadata.resolveTag(name, tag)) !== undefined) throw new ApiError('CONFLICT', `tag ${tag} already exists in ${name}`);
  if (!(await context.metadata.tagManifest(name, tag, artifact.digest))) throw new ApiError('NOT_FOUND', `artifact ${artifact.digest} not found`);
  recordChange(request, context, 'create', 'tag', `${name}:${tag}`, project.name, { digest: artifact.digest });
  const encoded = encodeURIComponent(encodeURIComponent(name.slice(project.name.length + 1)));
  return { status: 201, headers: location(`${API_PREFIX}/projects/${project.name}/repositories/${encoded}/artifacts/${artifact.digest}/tags/${tag}`) };
};

export const deleteTag: Handler = async (request, context) => {
  const { project } = await projectFor(request, context, 'tag', 'delete');
  const name = repositoryName(request, project.name);
  const artifact = await artifactFor(request, context, name);
  const tag = param(request, 'tag_name');
  if (!artifact.tags.some((t) => t.name === tag)) throw new ApiError('NOT_FOUND', `tag ${tag} not found on ${artifact.digest}`);
  await context.manifests.delete(name, { kind: 'tag', tag });
  recordChange(request, context, 'delete', 'tag', `${name}:${tag}`, project.name);
  return { status: 200 };
};

/** Delete a repository manifest by manifest, so the /v2 caches drop each one, then the repository itself. */
export async function purgeRepository(context: ApiContext, name: string): Promise<void> {
  for (;;) {
    const batch = await context.metadata.listArtifacts(name, {}, { page: 1, pageSize: 100 });
    if (batch === undefined || batch.items.length === 0) break;
    for (const artifact of batch.items) await deleteManifest(context, name, artifact.digest);
  }
  await context.metadata.deleteRepository(name);
}

async function deleteManifest(context: ApiContext, repository: string, digest: string): Promise<void> {
  const parsed = tryParseDigest(digest);
  if (parsed === undefined) return;
  try {
    await context.manifests.delete(repository, { kind: 'digest', digest: parsed });
  } catch (err) {
    // Deleted meanwhile by someone else: the outcome is the same.
    if ((err as { code?: string }).code !== 'MANIFEST_UNKNOWN') throw err;
  }
}
