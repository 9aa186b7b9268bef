/**
 * The /v2 permission matrix over real HTTP: every kind of caller × pull, push, delete, mount
 * (from a private and from a public project), catalog and tags, on a private and a public
 * project, through the token flow (GET /service/token, then Bearer) and with Basic straight
 * on /v2, against the registry app wired with auth on as server.ts wires it (harness.ts).
 * Each cell's status is written out by hand in ../auth/matrix.ts (V2_HTTP_EXPECTED); the
 * error code and challenge follow from it, and what each write stored (or did not) is read
 * back from the metadata store after every call.
 */
import { expect } from 'chai';
import { V2_HTTP_EXPECTED, type V2Action } from '../auth/matrix.ts';
import { seedCast, WHO, type Cast, type Who } from './fixture.ts';
import { startHarness, testImage, type Harness, type OpenHarnessDatabase, type TestImage } from './harness.ts';

type Project = 'priv' | 'pub';
type Mode = 'token' | 'basic';

const SERVICE = 'berth-registry';

interface V2Request {
  method: string;
  path: string;
  body?: Buffer;
  contentType?: string;
}

interface Reply {
  status: number;
  headers: Headers;
  body: Buffer;
}

/** What a cell needs besides who and how: the images the suite pushed first. */
interface Seeded {
  /** `<project>/img:v1`, pulled and listed. */
  img: Record<Project, TestImage>;
  /** The layers that mounts take from `vault/base` and `open/base`. */
  vault: TestImage;
  open: TestImage;
}

/** One cell of the matrix: a caller, a project, how the caller authenticates. */
interface Cell {
  h: Harness;
  seeded: Seeded;
  project: Project;
  who: Who;
  mode: Mode;
}

interface ActionSpec {
  /** The token scopes a client asks for before this operation; the first is the route's own. */
  scopes(cell: Cell): string[];
  requests(cell: Cell): V2Request[];
  /** Checks of an allowed answer's content; problems are returned as text. */
  content?(reply: Reply, request: V2Request, cell: Cell): string[];
  /**
   * For writes: the status that means the write happened, and facts about the store that are
   * all false before the call, all true after it when it happened, and all still false when not.
   */
  effect?: { status: number; facts(cell: Cell): Promise<boolean[]> };
}

const lower = (who: Who) => who.toLowerCase();
const pushImageOf = ({ project, who, mode }: Pick<Cell, 'project' | 'who' | 'mode'>) => testImage(`push ${project} ${who} ${mode}`);
const deleteImageOf = ({ project, who, mode }: Pick<Cell, 'project' | 'who' | 'mode'>) => testImage(`delete ${project} ${who} ${mode}`);
const mountTarget = ({ project, who, mode }: Cell, source: 'vault' | 'open') => `${project}/mount-${source}-${lower(who)}-${mode}`;

/** A client's push of `image` as `repository:tag`: both blobs monolithically, then the manifest. */
function pushRequests(repository: string, tag: string, image: TestImage): V2Request[] {
  return [
    { method: 'POST', path: `/v2/${repository}/blobs/uploads/?digest=${image.layerDigest}`, body: image.layer, contentType: 'application/octet-stream' },
    { method: 'POST', path: `/v2/${repository}/blobs/uploads/?digest=${image.configDigest}`, body: image.config, contentType: 'application/octet-stream' },
    { method: 'PUT', path: `/v2/${repository}/manifests/${tag}`, body: image.manifest, contentType: 'application/vnd.oci.image.manifest.v1+json' },
  ];
}

function mountAction(source: 'vault' | 'open'): ActionSpec {
  return {
    scopes: (cell) => [`repository:${mountTarget(cell, source)}:pull,push`, `repository:${source}/base:pull`],
    requests: (cell) => [{ method: 'POST', path: `/v2/${mountTarget(cell, source)}/blobs/uploads/?mount=${cell.seeded[source].layerDigest}&from=${source}/base` }],
    content: (reply, _request, cell) => {
      const target = `${cell.h.externalURL}/v2/${mountTarget(cell, source)}`;
      const location = reply.headers.get('location') ?? '';
      if (reply.status === 201) return location === `${target}/blobs/${cell.seeded[source].layerDigest}` ? [] : [`mount Location ${location}`];
      // 202: the fallback, an upload session in the target repository.
      return location.startsWith(`${target}/blobs/uploads/`) && reply.headers.get('docker-upload-uuid') ? [] : [`upload session Location ${location}`];
    },
    effect: {
      status: 201,
      facts: async (cell) => [(await cell.h.metadata.getLinkedBlob(mountTarget(cell, source), cell.seeded[source].layerDigest)) !== undefined],
    },
  };
}

const ACTIONS: Record<V2Action, ActionSpec> = {
  pull: {
    scopes: ({ project }) => [`repository:${project}/img:pull`],
    requests: ({ project, seeded }) => [
      { method: 'GET', path: `/v2/${project}/img/manifests/v1` },
      { method: 'GET', path: `/v2/${project}/img/blobs/${seeded.img[project].layerDigest}` },
    ],
    content: (reply, request, { project, seeded }) => {
      const expected = request.path.includes('/manifests/') ? seeded.img[project].manifest : seeded.img[project].layer;
      return reply.body.equals(expected) ? [] : [`${request.path} served other bytes`];
    },
  },
  push: {
    scopes: ({ project }) => [`repository:${project}/push:pull,push`],
    requests: (cell) => pushRequests(`${cell.project}/push`, `${cell.who}-${cell.mode}`, pushImageOf(cell)),
    effect: {
      status: 201,
      facts: async (cell) => {
        const { h, project, who, mode } = cell;
        const image = pushImageOf(cell);
        return [
          (await h.metadata.resolveTag(`${project}/push`, `${who}-${mode}`)) === image.digest,
          (await h.metadata.getLinkedBlob(`${project}/push`, image.layerDigest)) !== undefined,
          (await h.metadata.getBlob(image.layerDigest)) !== undefined,
          (await h.metadata.getBlob(image.configDigest)) !== undefined,
        ];
      },
    },
  },
  delete: {
    scopes: ({ project }) => [`repository:${project}/del:delete`],
    requests: (cell) => [{ method: 'DELETE', path: `/v2/${cell.project}/del/manifests/${deleteImageOf(cell).digest}` }],
    effect: {
      status: 202,
      facts: async (cell) => [(await cell.h.metadata.getManifest(`${cell.project}/del`, deleteImageOf(cell).digest)) === undefined],
    },
  },
  'mount from vault': mountAction('vault'),
  'mount from open': mountAction('open'),
  catalog: {
    scopes: () => ['registry:catalog:*'],
    requests: () => [{ method: 'GET', path: '/v2/_catalog' }],
    content: (reply) => {
      const repositories: string[] = JSON.parse(reply.body.toString()).repositories;
      const wanted = ['open/base', 'priv/img', 'pub/img', 'vault/base'];
      return wanted.every((r) => repositories.includes(r)) ? [] : [`catalog ${JSON.stringify(repositories)}`];
    },
  },
  tags: {
    scopes: ({ project }) => [`repository:${project}/img:pull`],
    requests: ({ project }) => [{ method: 'GET', path: `/v2/${project}/img/tags/list` }],
    content: (reply, _request, { project }) => {
      const body = reply.body.toString();
      return body === JSON.stringify({ name: `${project}/img`, tags: ['v1'] }) ? [] : [`tags ${body}`];
    },
  },
};

function basic([user, password]: readonly [string, string]): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

async function send(h: Harness, request: V2Request, authorization: string | undefined): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (authorization) headers['authorization'] = authorization;
  if (request.contentType) headers['content-type'] = request.contentType;
  const response = await fetch(h.url + request.path, {
    method: request.method,
    headers,
    ...(request.body ? { body: new Uint8Array(request.body) } : {}),
    redirect: 'manual',
  });
  return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) };
}

/** The client's login: GET /service/token for `scopes`, with Basic credentials or none. */
async function fetchToken(h: Harness, creds: readonly [string, string] | undefined, scopes: string[]): Promise<string> {
  const query = new URLSearchParams({ service: SERVICE });
  for (const scope of scopes) query.append('scope', scope);
  const response = await fetch(`${h.url}/service/token?${query}`, { headers: creds ? { authorization: basic(creds) } : {} });
  const body = await response.json();
  // A scope the caller may not have is dropped, never an error.
  if (response.status !== 200) throw new Error(`token for ${creds?.[0] ?? 'anonymous'}: ${response.status} ${JSON.stringify(body)}`);
  return body.token;
}

/** What a refusal must look like besides its status: the OCI error code and the challenge. */
function refusalProblems(h: Harness, reply: Reply, mode: Mode, scope: string): string[] {
  const problems: string[] = [];
  let code: string | undefined;
  try {
    code = JSON.parse(reply.body.toString()).errors[0].code;
  } catch {
    code = undefined;
  }
  const challenge = reply.headers.get('www-authenticate');
  if (reply.status === 401) {
    if (code !== 'UNAUTHORIZED') problems.push(`code ${code}`);
    const base = `Bearer realm="${h.externalURL}/service/token",service="${SERVICE}",scope="${scope}"`;
    if (mode === 'basic' && challenge !== base) problems.push(`challenge ${challenge}`);
    if (mode === 'token' && !challenge?.startsWith(`${base},error="insufficient_scope"`)) problems.push(`challenge ${challenge}`);
  } else if (reply.status === 403) {
    if (code !== 'DENIED') problems.push(`code ${code}`);
    if (challenge !== null) problems.push(`challenge on a 403: ${challenge}`);
  }
  return problems;
}

export function v2RoleMatrixSuite(backend: string, open: OpenHarnessDatabase): void {
  describe(`/v2 permission matrix over HTTP (token flow and Basic, SqlAccessStore on ${backend})`, function () {
    this.timeout(120_000);
    let h: Harness;
    let cast: Cast;
    let seeded: Seeded;

    before(async () => {
      h = await startHarness(open);
      cast = await seedCast(h);
      const vault = await h.access.createProject({ name: 'vault', public: false });
      await h.access.createProject({ name: 'open', public: true });
      await h.access.addMember(vault.id, cast.userIds.developer!, 'guest');
      seeded = { img: { priv: testImage('img priv'), pub: testImage('img pub') }, vault: testImage('vault'), open: testImage('open') };
      const admin = basic(cast.creds.admin!);
      const pushes: Array<[string, string, TestImage]> = [
        ['priv/img', 'v1', seeded.img.priv],
        ['pub/img', 'v1', seeded.img.pub],
        ['vault/base', 'v1', seeded.vault],
        ['open/base', 'v1', seeded.open],
      ];
      for (const project of ['priv', 'pub'] as const) {
        for (const who of WHO) for (const mode of ['token', 'basic'] as const) pushes.push([`${project}/del`, `${who}-${mode}`, deleteImageOf({ project, who, mode })]);
      }
      for (const [repository, tag, image] of pushes) {
        for (const request of pushRequests(repository, tag, image)) {
          const reply = await send(h, request, admin);
          expect(reply.status, `seed ${request.method} ${request.path}: ${reply.body}`).to.equal(201);
        }
      }
    });

    after(async () => {
      await h?.close();
    });

    for (const project of ['priv', 'pub'] as const) {
      for (const [name, action] of Object.entries(ACTIONS) as Array<[V2Action, ActionSpec]>) {
        for (const mode of ['token', 'basic'] as const) {
          it(`${project}: ${name} (${mode === 'token' ? 'token flow' : 'Basic on /v2'})`, async () => {
            const expected = V2_HTTP_EXPECTED[project][name][mode].trim().split(/\s+/).map(Number);
            expect(expected).to.have.length(WHO.length);
            const actual: Record<string, string> = {};
            const want: Record<string, string> = {};
            const problems: string[] = [];
            for (const [index, who] of WHO.entries()) {
              want[who] = String(expected[index]);
              const cell: Cell = { h, seeded, project, who, mode };
              const creds = cast.creds[who];
              const scopes = action.scopes(cell);
              const authorization = mode === 'token' ? `Bearer ${await fetchToken(h, creds, scopes)}` : creds && basic(creds);
              const before = await action.effect?.facts(cell);
              if (before?.some(Boolean)) problems.push(`${who}: already stored before the call: ${before}`);
              const statuses: number[] = [];
              for (const request of action.requests(cell)) {
                const reply = await send(h, request, authorization);
                statuses.push(reply.status);
                const where = (p: string) => `${who} ${request.method} ${request.path}: ${p}`;
                // A challenge names every scope the request asks for (a mount's source too).
                if (reply.status >= 400) problems.push(...refusalProblems(h, reply, mode, scopes.join(' ')).map(where));
                else if (action.content) problems.push(...action.content(reply, request, cell).map(where));
              }
              actual[who] = [...new Set(statuses)].join('/');
              if (action.effect) {
                const after = await action.effect.facts(cell);
                const happened = statuses.every((s) => s === action.effect!.status);
                if (after.some((fact) => fact !== happened)) problems.push(`${who}: stored ${after} after ${statuses}, expected all ${happened}`);
              }
            }
            expect(actual).to.deep.equal(want);
            expect(problems).to.deep.equal([]);
          });
        }
      }
    }

    it('audit (runs after the matrix): refusals of identified callers are recorded, anonymous ones and Basic logins per request are not', async () => {
      await h.audit.flush();
      const entries = async (filter: Parameters<Harness['access']['queryAudit']>[0]) =>
        (await h.access.queryAudit(filter, { page: 1, pageSize: 1000 })).items;
      const guest = cast.creds.guest![0];
      const guestPushes = await entries({ principal: guest, operation: 'push', project: 'priv', outcome: 'failure' });
      expect(guestPushes.length, JSON.stringify(guestPushes)).to.be.greaterThanOrEqual(2);
      // Each refused request of the push: the blob uploads (resource: the repository) and the manifest PUT.
      expect(guestPushes.every((e) => e.resource.startsWith('priv/')), JSON.stringify(guestPushes)).to.equal(true);
      expect(new Set(guestPushes.map((e) => e.resourceType))).to.deep.equal(new Set(['blob', 'artifact']));
      const developer = cast.creds.developer![0];
      const refusedDeletes = await entries({ principal: developer, operation: 'delete', project: 'priv', outcome: 'failure' });
      expect(refusedDeletes.length, JSON.stringify(refusedDeletes)).to.be.greaterThanOrEqual(2);
      expect(await entries({ principal: developer, operation: 'pull', project: 'priv', outcome: 'success' })).to.not.deep.equal([]);
      const logins = await entries({ operation: 'login' });
      const basicSuccesses = logins.filter((e) => e.outcome === 'success' && e.detail?.['channel'] === 'basic');
      expect(basicSuccesses, 'a successful Basic login is not one entry per request').to.deep.equal([]);
      expect(logins.filter((e) => e.outcome === 'success' && e.detail?.['channel'] === 'token')).to.not.deep.equal([]);
    });
  });
}
