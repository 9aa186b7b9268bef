/**
 * Every operation of the OpenAPI document, exercised against a real server (SqlAccessStore
 * and SqlMetadataStore on PGlite): each response is validated against the document's schema
 * by `call`, and the last test proves no documented operation was left out.
 */
import { expect } from 'chai';
import { decodeJwt } from 'jose';
import { openApiDocument, OPERATIONS } from '../../src/api/index.ts';
import { parseDigest } from '../../src/oci/grammar.ts';
import { call, exercised, pushImage, startHarness, type CallOptions, type Harness, type OpenHarnessDatabase } from './harness.ts';
import { PASSWORD, seedCast, type Cast } from './fixture.ts';

export function managementApiSuite(backend: string, open: OpenHarnessDatabase): void {
  describe(`/api/v2.0 management API: every documented operation (real server, ${backend})`, function () {
    this.timeout(120_000);
    let h: Harness;
    let cast: Cast;
    const api = (method: string, path: string, options: CallOptions = {}) => call(h.url, method, `/api/v2.0${path}`, options);
    const admin = () => cast.creds.admin!;

    before(async () => {
      h = await startHarness(open);
      cast = await seedCast(h);
    });

    after(async () => {
      await h?.close();
    });

    describe('system', () => {
      it('ping answers Pong to anyone', async () => {
        const r = await api('GET', '/ping');
        expect(r.status).to.equal(200);
        expect(r.text).to.equal('Pong');
      });

      it("health lists each backend; a failing one makes it 503 without the URL's credentials", async () => {
        const up = await api('GET', '/health');
        expect(up.status).to.equal(200);
        expect(up.json.status).to.equal('healthy');
        expect(up.json.components.map((c: { name: string }) => c.name).sort()).to.deep.equal(['cache', 'metadata', 'probe']);
        h.setProbeDown(true);
        try {
          const down = await api('GET', '/health');
          expect(down.status).to.equal(503);
          expect(down.json.status).to.equal('unhealthy');
          const probe = down.json.components.find((c: { name: string }) => c.name === 'probe');
          expect(probe.status).to.equal('unhealthy');
          expect(probe.error).to.contain('ECONNREFUSED');
          expect(down.text).to.not.contain('hunter2');
        } finally {
          h.setProbeDown(false);
        }
      });

      it('systeminfo and the OpenAPI document are public; the served document is the generated one', async () => {
        const info = await api('GET', '/systeminfo');
        expect(info.status).to.equal(200);
        expect(info.json.harbor_version).to.equal('berth-0.1.0-test');
        expect(info.json.external_url).to.equal('http://registry.test');
        const doc = await api('GET', '/openapi.json');
        expect(doc.status).to.equal(200);
        expect(doc.json).to.deep.equal(JSON.parse(JSON.stringify(openApiDocument('0.1.0-test'))));
        expect(Object.keys(doc.json.paths)).to.include('/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/tags/{tag_name}');
      });

      it('unknown paths and methods answer in the Harbor error shape', async () => {
        const missing = await api('GET', '/nothing-here');
        expect(missing.status).to.equal(404);
        expect(missing.json.errors[0].code).to.equal('NOT_FOUND');
        const method = await api('PATCH', '/projects');
        expect(method.status).to.equal(405);
        expect(method.json.errors[0].code).to.equal('METHOD_NOT_ALLOWED');
      });
    });

    describe('projects', () => {
      it('create (201 + Location), duplicate 409, bad name 400, anonymous 401', async () => {
        const created = await api('POST', '/projects', { as: cast.creds.developer, body: { project_name: 'team-a', metadata: { public: 'false' } } });
        expect(created.status).to.equal(201);
        expect(created.headers.get('location')).to.match(/^\/api\/v2\.0\/projects\/\d+$/);
        const project = await api('GET', created.headers.get('location')!.slice('/api/v2.0'.length), { as: cast.creds.developer });
        expect(project.json).to.include({ name: 'team-a', owner_name: 'u-developer', current_user_role_id: 1 });
        expect(project.json.metadata.public).to.equal('false');
        expect((await api('POST', '/projects', { as: admin(), body: { project_name: 'team-a' } })).status).to.equal(409);
        const bad = await api('POST', '/projects', { as: admin(), body: { project_name: 'Team A' } });
        expect(bad.status).to.equal(400);
        expect(bad.json.errors[0].code).to.equal('BAD_REQUEST');
        expect((await api('POST', '/projects', { body: { project_name: 'anon' } })).status).to.equal(401);
        const schemaBad = await api('POST', '/projects', { as: admin(), body: { name: 'x' } });
        expect(schemaBad.status).to.equal(400);
        expect(schemaBad.json.errors[0].message).to.contain('project_name');
      });

      it('HEAD checks a name; GET by id, by name, and by numeric name with X-Is-Resource-Name', async () => {
        expect((await api('HEAD', '/projects?project_name=priv', { as: cast.creds.guest })).status).to.equal(200);
        expect((await api('HEAD', '/projects?project_name=nope', { as: cast.creds.guest })).status).to.equal(404);
        expect((await api('HEAD', '/projects?project_name=priv')).status).to.equal(401);
        const byId = await api('GET', `/projects/${cast.projects.priv}`, { as: cast.creds.guest });
        expect(byId.json).to.include({ name: 'priv', project_id: cast.projects.priv, current_user_role_id: 3 });
        await h.access.createProject({ name: '4242', public: true });
        const numeric = await api('GET', '/projects/4242', { as: admin(), headers: { 'X-Is-Resource-Name': 'true' } });
        expect(numeric.status).to.equal(200);
        expect(numeric.json.name).to.equal('4242');
        expect((await api('GET', '/projects/nope', { as: admin() })).status).to.equal(404);
      });

      it('lists with page, page_size, X-Total-Count, Link and q filters, by visibility', async () => {
        const first = await api('GET', '/projects?page=1&page_size=2', { as: admin() });
        const total = Number(first.headers.get('x-total-count'));
        expect(total).to.be.greaterThanOrEqual(5);
        expect(first.json).to.have.length(2);
        expect(first.headers.get('link')).to.equal('</api/v2.0/projects?page=2&page_size=2>; rel="next"');
        const second = await api('GET', '/projects?page=2&page_size=2', { as: admin() });
        expect(second.headers.get('link')).to.contain('rel="prev"');
        expect(second.json[0].name).to.not.equal(first.json[0].name);
        const fuzzy = await api('GET', `/projects?q=${encodeURIComponent('name=~pri')}`, { as: admin() });
        expect(fuzzy.json.map((p: { name: string }) => p.name)).to.deep.equal(['priv']);
        const exact = await api('GET', `/projects?q=${encodeURIComponent('name=pub,public=true')}`, { as: admin() });
        expect(exact.json.map((p: { name: string }) => p.name)).to.deep.equal(['pub']);
        expect((await api('GET', '/projects?q=colour=red', { as: admin() })).status).to.equal(400);
        expect((await api('GET', '/projects?page_size=1000', { as: admin() })).status).to.equal(400);
        const anonymous = await api('GET', '/projects?page_size=100');
        const names = anonymous.json.map((p: { name: string }) => p.name);
        expect(names).to.include.members(['library', 'pub']);
        expect(names).to.not.include('priv');
        const outsider = await api('GET', '/projects?page_size=100', { as: cast.creds.nonMember });
        expect(outsider.json.map((p: { name: string }) => p.name)).to.not.include('priv');
        const robot = await api('GET', '/projects?page_size=100', { as: cast.creds.projectRobot });
        expect(robot.json.map((p: { name: string }) => p.name)).to.include.members(['pub']);
      });

      it('update sets metadata.public; delete refuses a project with repositories (412) unless forced', async () => {
        await h.access.createProject({ name: 'doomed', public: false });
        const doomedDigest = await pushImage(h.metadata, 'doomed/app', ['v1'], 'doomed');
        // /v2 has read it, so its caches hold the manifest.
        expect((await h.manifests.get('doomed/app', { kind: 'tag', tag: 'v1' })).digest).to.equal(doomedDigest);
        expect((await api('PUT', '/projects/doomed', { as: admin(), body: { metadata: { public: 'true' } } })).status).to.equal(200);
        expect((await api('GET', '/projects/doomed')).json.metadata.public).to.equal('true');
        expect((await api('PUT', '/projects/doomed', { as: admin(), body: { metadata: { public: 'yes' } } })).status).to.equal(400);
        const refused = await api('DELETE', '/projects/doomed', { as: admin() });
        expect(refused.status).to.equal(412);
        expect(refused.json.errors[0].code).to.equal('PRECONDITION');
        expect((await api('DELETE', '/projects/doomed?force=true', { as: admin() })).status).to.equal(200);
        expect(await h.access.getProjectByName('doomed')).to.equal(undefined);
        expect(await h.metadata.getRepository('doomed/app')).to.equal(undefined);
        const gone = await h.manifests.get('doomed/app', { kind: 'digest', digest: parseDigest(doomedDigest) }).then(
          () => 'still served',
          (err: { code?: string }) => err.code,
        );
        expect(gone).to.equal('MANIFEST_UNKNOWN');
      });
    });

    describe('repositories, artifacts, tags', () => {
      let digest: string;
      before(async () => {
        digest = await pushImage(h.metadata, 'priv/team/tool', ['1.0', 'latest'], 'tool');
      });

      it('lists and gets repositories (nested names encoded twice, as Harbor does)', async () => {
        const list = await api('GET', '/projects/priv/repositories', { as: cast.creds.guest });
        expect(list.json.map((r: { name: string }) => r.name).sort()).to.deep.equal(['priv/app', 'priv/team/tool']);
        const one = await api('GET', `/projects/priv/repositories/${encodeURIComponent(encodeURIComponent('team/tool'))}`, { as: cast.creds.guest });
        expect(one.status).to.equal(200);
        expect(one.json).to.include({ name: 'priv/team/tool', artifact_count: 1, project_id: cast.projects.priv });
        expect((await api('GET', '/projects/priv/repositories/nothing', { as: cast.creds.guest })).status).to.equal(404);
      });

      it('artifacts by tag and by digest; tags listed, created (409 twice), deleted', async () => {
        const repo = `/projects/priv/repositories/${encodeURIComponent(encodeURIComponent('team/tool'))}`;
        const list = await api('GET', `${repo}/artifacts`, { as: cast.creds.guest });
        expect(list.json).to.have.length(1);
        expect(list.json[0]).to.include({ digest, type: 'IMAGE', manifest_media_type: 'application/vnd.oci.image.manifest.v1+json' });
        const byTag = await api('GET', `${repo}/artifacts/latest`, { as: cast.creds.guest });
        expect(byTag.json.digest).to.equal(digest);
        expect(byTag.json.tags.map((t: { name: string }) => t.name).sort()).to.deep.equal(['1.0', 'latest']);
        expect((await api('GET', `${repo}/artifacts/${digest}`, { as: cast.creds.guest })).json.digest).to.equal(digest);
        expect((await api('GET', `${repo}/artifacts/nope`, { as: cast.creds.guest })).status).to.equal(404);
        const tags = await api('GET', `${repo}/artifacts/${digest}/tags`, { as: cast.creds.guest });
        expect(tags.json.map((t: { name: string }) => t.name).sort()).to.deep.equal(['1.0', 'latest']);
        const created = await api('POST', `${repo}/artifacts/${digest}/tags`, { as: cast.creds.developer, body: { name: 'stable' } });
        expect(created.status).to.equal(201);
        expect(await h.metadata.resolveTag('priv/team/tool', 'stable')).to.equal(digest);
        expect((await api('POST', `${repo}/artifacts/${digest}/tags`, { as: cast.creds.developer, body: { name: 'stable' } })).status).to.equal(409);
        expect((await api('POST', `${repo}/artifacts/${digest}/tags`, { as: cast.creds.developer, body: { name: '-bad' } })).status).to.equal(400);
        expect((await api('DELETE', `${repo}/artifacts/${digest}/tags/stable`, { as: cast.creds.maintainer })).status).to.equal(200);
        expect(await h.metadata.resolveTag('priv/team/tool', 'stable')).to.equal(undefined);
        expect((await api('DELETE', `${repo}/artifacts/${digest}/tags/stable`, { as: cast.creds.maintainer })).status).to.equal(404);
      });

      it('artifact delete: developer 403, maintainer 200; repository delete: projectAdmin 200', async () => {
        const repo = `/projects/priv/repositories/${encodeURIComponent(encodeURIComponent('team/tool'))}`;
        const refused = await api('DELETE', `${repo}/artifacts/latest`, { as: cast.creds.developer });
        expect(refused.status).to.equal(403);
        expect(refused.json.errors[0].code).to.equal('FORBIDDEN');
        expect((await api('DELETE', `${repo}/artifacts/latest`, { as: cast.creds.maintainer })).status).to.equal(200);
        expect(await h.metadata.getArtifact('priv/team/tool', digest)).to.equal(undefined);
        await pushImage(h.metadata, 'priv/team/tool', ['again'], 'tool-2');
        expect((await api('DELETE', repo, { as: cast.creds.developer })).status).to.equal(403);
        expect((await api('DELETE', repo, { as: cast.creds.projectAdmin })).status).to.equal(200);
        expect(await h.metadata.getRepository('priv/team/tool')).to.equal(undefined);
        expect((await api('DELETE', repo, { as: cast.creds.projectAdmin })).status).to.equal(404);
      });
    });

    describe('members', () => {
      it('get, update role, delete a member; unknown role 400, unknown user 404', async () => {
        await h.access.createUser({ name: 'newbie', passwordHash: null });
        const created = await api('POST', '/projects/priv/members', { as: cast.creds.projectAdmin, body: { role_id: 3, member_user: { username: 'newbie' } } });
        expect(created.status).to.equal(201);
        const location = created.headers.get('location')!;
        expect(location).to.match(/\/members\/\d+$/);
        const path = location.slice('/api/v2.0'.length);
        const member = await api('GET', path, { as: cast.creds.guest });
        expect(member.json).to.include({ entity_name: 'newbie', role_id: 3, role_name: 'guest', entity_type: 'u' });
        expect((await api('PUT', path, { as: cast.creds.maintainer, body: { role_id: 2 } })).status).to.equal(403);
        expect((await api('PUT', path, { as: cast.creds.projectAdmin, body: { role_id: 2 } })).status).to.equal(200);
        expect((await api('GET', path, { as: cast.creds.guest })).json.role_name).to.equal('developer');
        expect((await api('PUT', path, { as: cast.creds.projectAdmin, body: { role_id: 9 } })).status).to.equal(400);
        expect((await api('POST', '/projects/priv/members', { as: cast.creds.projectAdmin, body: { role_id: 3, member_user: { username: 'ghost' } } })).status).to.equal(404);
        expect((await api('POST', '/projects/priv/members', { as: cast.creds.projectAdmin, body: { role_id: 3, member_user: { username: 'newbie' } } })).status).to.equal(409);
        const filtered = await api('GET', '/projects/priv/members?entityname=newb', { as: cast.creds.guest });
        expect(filtered.json.map((m: { entity_name: string }) => m.entity_name)).to.deep.equal(['newbie']);
        expect((await api('DELETE', path, { as: cast.creds.projectAdmin })).status).to.equal(200);
        expect((await api('GET', path, { as: cast.creds.guest })).status).to.equal(404);
      });
    });

    describe('robots', () => {
      it('a system robot: secret shown once, then it logs in to /api and gets a token; disable, refresh, delete', async () => {
        const created = await api('POST', '/robots', {
          as: admin(),
          body: { name: 'deployer', level: 'system', duration: 30, permissions: [{ kind: 'project', namespace: 'priv', access: [{ resource: 'repository', action: 'pull' }, { resource: 'repository', action: 'list' }] }] },
        });
        expect(created.status).to.equal(201);
        expect(created.json.name).to.equal('robot$deployer');
        expect(created.json.secret).to.match(/^[A-Za-z0-9]{32}$/);
        expect(created.json.expires_at).to.be.greaterThan(Date.now() / 1000 + 29 * 86400);
        const id = created.json.id as number;
        const creds = ['robot$deployer', created.json.secret as string] as const;
        const shown = await api('GET', `/robots/${id}`, { as: admin() });
        expect(shown.json).to.include({ name: 'robot$deployer', level: 'system', duration: 30, disable: false });
        expect(shown.text).to.not.contain(creds[1]);
        expect((await api('GET', '/projects/priv/repositories', { as: creds })).status).to.equal(200);
        const token = await call(h.url, 'GET', '/service/token?service=berth-registry&scope=repository:priv/app:pull,push', { as: creds });
        expect(token.status).to.equal(200);
        expect(decodeJwt(token.json.token).access).to.deep.equal([{ type: 'repository', name: 'priv/app', actions: ['pull'] }]);

        expect((await api('PUT', `/robots/${id}`, { as: admin(), body: { disable: true, description: 'off' } })).status).to.equal(200);
        expect((await api('GET', '/projects/priv/repositories', { as: creds })).status).to.equal(401);
        expect((await call(h.url, 'GET', '/service/token?service=berth-registry&scope=repository:priv/app:pull', { as: creds })).status).to.equal(401);
        await api('PUT', `/robots/${id}`, { as: admin(), body: { disable: false } });

        const refreshed = await api('PATCH', `/robots/${id}`, { as: admin(), body: {} });
        expect(refreshed.status).to.equal(200);
        expect(refreshed.json.secret).to.not.equal(creds[1]);
        expect((await api('GET', '/projects/priv/repositories', { as: creds })).status).to.equal(401);
        expect((await api('GET', '/projects/priv/repositories', { as: ['robot$deployer', refreshed.json.secret] })).status).to.equal(200);
        expect((await api('PATCH', `/robots/${id}`, { as: admin(), body: { secret: 'weak' } })).status).to.equal(400);
        expect((await api('PATCH', `/robots/${id}`, { as: admin(), body: { secret: 'Chosen-Secret-42' } })).status).to.equal(200);
        expect((await api('GET', '/projects/priv/repositories', { as: ['robot$deployer', 'Chosen-Secret-42'] })).status).to.equal(200);

        const systemList = await api('GET', `/robots?q=${encodeURIComponent('Level=system')}`, { as: admin() });
        expect(systemList.json.map((r: { name: string }) => r.name)).to.include.members(['robot$deployer', 'robot$ops']);
        expect((await api('GET', '/robots', { as: cast.creds.projectAdmin })).status).to.equal(403);
        expect((await api('DELETE', `/robots/${id}`, { as: admin() })).status).to.equal(200);
        expect((await api('GET', `/robots/${id}`, { as: admin() })).status).to.equal(404);
      });

      it('project robots: a project admin creates one within its rights, never beyond (403), and sees it by ProjectID', async () => {
        const maintainer = await api('POST', '/robots', {
          as: cast.creds.maintainer,
          body: { name: 'sneaky', level: 'project', permissions: [{ kind: 'project', namespace: 'priv', access: [{ resource: 'repository', action: 'pull' }] }] },
        });
        expect(maintainer.status).to.equal(403);
        expect(maintainer.json.errors[0].message).to.contain('not allowed to create robot');
        // Project Admin may create robots, but holds no "scan delete" itself.
        const beyond = await api('POST', '/robots', {
          as: cast.creds.projectAdmin,
          body: { name: 'sneaky', level: 'project', permissions: [{ kind: 'project', namespace: 'priv', access: [{ resource: 'repository', action: 'pull' }, { resource: 'scan', action: 'delete' }] }] },
        });
        expect(beyond.status).to.equal(403);
        expect(beyond.json.errors[0].message).to.equal('a robot cannot hold more than its creator: priv:scan:delete');
        expect(await h.access.getRobotByName('robot$priv+sneaky')).to.equal(undefined);
        const ok = await api('POST', `/projects/priv/robots`, {
          as: cast.creds.projectAdmin,
          body: { name: 'builder', level: 'project', permissions: [{ kind: 'project', namespace: 'priv', access: [{ resource: 'repository', action: 'push' }, { resource: 'repository', action: 'pull' }] }] },
        });
        expect(ok.status).to.equal(201);
        expect(ok.json.name).to.equal('robot$priv+builder');
        const elsewhere = await api('POST', '/robots', {
          as: cast.creds.projectAdmin,
          body: { name: 'wide', level: 'project', permissions: [{ kind: 'project', namespace: 'pub', access: [{ resource: 'repository', action: 'push' }] }, { kind: 'project', namespace: 'library', access: [{ resource: 'repository', action: 'push' }] }] },
        });
        expect(elsewhere.status).to.equal(400);
        // Harbor operator style: X-Is-Resource-Name on every call, ProjectID numeric in q.
        const listed = await api('GET', `/robots?q=${encodeURIComponent(`Level=project,ProjectID=${cast.projects.priv}`)}&page_size=100`, {
          as: cast.creds.projectAdmin,
          headers: { 'X-Is-Resource-Name': 'true' },
        });
        expect(listed.status).to.equal(200);
        expect(listed.json.map((r: { name: string }) => r.name).sort()).to.deep.equal(['robot$priv+builder', 'robot$priv+ci']);
        const projectList = await api('GET', '/projects/priv/robots', { as: cast.creds.guest });
        expect(projectList.json.map((r: { name: string }) => r.name)).to.include('robot$priv+builder');
        const widen = await api('PUT', `/robots/${ok.json.id}`, {
          as: cast.creds.maintainer,
          body: { permissions: [{ kind: 'project', namespace: 'priv', access: [{ resource: 'repository', action: 'delete' }] }] },
        });
        expect(widen.status).to.equal(403);
        const system = await api('POST', '/robots', { as: cast.creds.projectAdmin, body: { name: 'sys', level: 'system', permissions: [{ kind: 'system', namespace: '/', access: [{ resource: 'user', action: 'list' }] }] } });
        expect(system.status).to.equal(403);
      });
    });

    describe('users', () => {
      it('admin creates, lists, gets, updates; the user reads itself and changes its password with the old one', async () => {
        const weak = await api('POST', '/users', { as: admin(), body: { username: 'carol', password: 'short' } });
        expect(weak.status).to.equal(400);
        const created = await api('POST', '/users', { as: admin(), body: { username: 'carol', password: 'Carol-Passw0rd', email: 'carol@example.org', realname: 'Carol' } });
        expect(created.status).to.equal(201);
        const path = created.headers.get('location')!.slice('/api/v2.0'.length);
        expect((await api('POST', '/users', { as: admin(), body: { username: 'carol', password: 'Carol-Passw0rd' } })).status).to.equal(409);
        expect((await api('POST', '/users', { as: cast.creds.projectAdmin, body: { username: 'dave', password: 'Dave-Passw0rd' } })).status).to.equal(403);
        const carol = ['carol', 'Carol-Passw0rd'] as const;
        const me = await api('GET', '/users/current', { as: carol });
        expect(me.json).to.include({ username: 'carol', email: 'carol@example.org', sysadmin_flag: false });
        expect(me.text).to.not.match(/password|hash/i);
        expect((await api('GET', '/users/current')).status).to.equal(401);
        expect((await api('GET', '/users/current', { as: cast.creds.projectRobot })).status).to.equal(403);
        expect((await api('GET', path, { as: carol })).json.username).to.equal('carol');
        expect((await api('GET', `/users/${cast.userIds.admin}`, { as: carol })).status).to.equal(403);
        const listed = await api('GET', `/users?q=${encodeURIComponent('username=~car')}`, { as: admin() });
        expect(listed.json.map((u: { username: string }) => u.username)).to.deep.equal(['carol']);
        expect((await api('PUT', path, { as: carol, body: { realname: 'Carol C.' } })).status).to.equal(200);
        expect((await api('GET', path, { as: admin() })).json.realname).to.equal('Carol C.');

        expect((await api('PUT', `${path}/password`, { as: carol, body: { old_password: 'wrong', new_password: 'Carol-N3w-pass' } })).status).to.equal(403);
        expect((await api('PUT', `${path}/password`, { as: carol, body: { old_password: 'Carol-Passw0rd', new_password: 'Carol-N3w-pass' } })).status).to.equal(200);
        expect((await api('GET', '/users/current', { as: carol })).status).to.equal(401);
        expect((await api('GET', '/users/current', { as: ['carol', 'Carol-N3w-pass'] })).status).to.equal(200);
        expect((await api('PUT', `${path}/password`, { as: admin(), body: { new_password: 'Reset-by-adm1n' } })).status).to.equal(200);
        expect((await api('GET', '/users/current', { as: ['carol', 'Reset-by-adm1n'] })).status).to.equal(200);
      });

      it('sysadmin flag: granted and revoked, never from the last administrator; delete: not oneself, not the last admin', async () => {
        const created = await api('POST', '/users', { as: admin(), body: { username: 'erin', password: 'Erin-Passw0rd' } });
        const path = created.headers.get('location')!.slice('/api/v2.0'.length);
        const erin = ['erin', 'Erin-Passw0rd'] as const;
        expect((await api('GET', '/users', { as: erin })).status).to.equal(403);
        expect((await api('PUT', `${path}/sysadmin`, { as: erin, body: { sysadmin_flag: true } })).status).to.equal(403);
        expect((await api('PUT', `${path}/sysadmin`, { as: admin(), body: { sysadmin_flag: true } })).status).to.equal(200);
        expect((await api('GET', '/users', { as: erin })).status).to.equal(200);
        expect((await api('DELETE', path, { as: erin })).status).to.equal(403);
        expect((await api('PUT', `${path}/sysadmin`, { as: admin(), body: { sysadmin_flag: false } })).status).to.equal(200);
        const lastAdmin = await api('PUT', `/users/${cast.userIds.admin}/sysadmin`, { as: admin(), body: { sysadmin_flag: false } });
        expect(lastAdmin.status).to.equal(409);
        expect((await api('DELETE', path, { as: admin() })).status).to.equal(200);
        expect((await api('GET', path, { as: admin() })).status).to.equal(404);
        expect((await api('GET', '/users/current', { as: erin })).status).to.equal(401);
      });
    });

    describe('login rate limit', () => {
      it('after 10 failures a user is locked out with 429 TOO_MANY_REQUESTS and Retry-After, even with the right password', async () => {
        await h.access.createUser({ name: 'target', passwordHash: await h.auth.passwords.hash(PASSWORD) });
        for (let i = 0; i < 10; i++) expect((await api('GET', '/users/current', { as: ['target', `guess-${i}`] })).status).to.equal(401);
        const locked = await api('GET', '/users/current', { as: ['target', PASSWORD] });
        expect(locked.status).to.equal(429);
        expect(locked.json.errors[0].code).to.equal('TOO_MANY_REQUESTS');
        expect(Number(locked.headers.get('retry-after'))).to.be.within(1, 300);
        // Another user from the same address is not locked out.
        expect((await api('GET', '/users/current', { as: cast.creds.guest })).status).to.equal(200);
      });
    });

    describe('sessions (portal) with CSRF', () => {
      it('login sets an HttpOnly cookie and a CSRF token; writes need the header; logout ends the session', async () => {
        const form = new URLSearchParams({ principal: 'u-developer', password: PASSWORD }).toString();
        const login = await fetch(`${h.url}/c/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form });
        expect(login.status).to.equal(200);
        const setCookie = login.headers.get('set-cookie')!;
        expect(setCookie).to.match(/^sid=[A-Za-z0-9_-]+; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Lax$/);
        const cookie = setCookie.split(';')[0]!;
        const csrf = login.headers.get('x-harbor-csrf-token')!;
        expect(csrf).to.have.length.greaterThan(20);

        const me = await api('GET', '/users/current', { headers: { cookie } });
        expect(me.json.username).to.equal('u-developer');
        expect(me.headers.get('x-harbor-csrf-token')).to.equal(csrf);
        const noCsrf = await api('POST', '/projects', { headers: { cookie }, body: { project_name: 'from-portal' } });
        expect(noCsrf.status).to.equal(403);
        expect(noCsrf.json.errors[0].message).to.contain('CSRF');
        const wrongCsrf = await api('POST', '/projects', { headers: { cookie, 'X-Harbor-CSRF-Token': csrf.slice(1) + 'x' }, body: { project_name: 'from-portal' } });
        expect(wrongCsrf.status).to.equal(403);
        const withCsrf = await api('POST', '/projects', { headers: { cookie, 'X-Harbor-CSRF-Token': csrf }, body: { project_name: 'from-portal' } });
        expect(withCsrf.status).to.equal(201);

        const bad = await fetch(`${h.url}/c/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'principal=u-developer&password=nope' });
        expect(bad.status).to.equal(401);
        const robot = await fetch(`${h.url}/c/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ principal: cast.creds.projectRobot![0], password: cast.creds.projectRobot![1] }).toString(),
        });
        expect(robot.status).to.equal(403);

        const logout = await fetch(`${h.url}/c/log_out`, { method: 'POST', headers: { cookie } });
        expect(logout.status).to.equal(200);
        expect(logout.headers.get('set-cookie')).to.contain('Max-Age=0');
        expect((await api('GET', '/users/current', { headers: { cookie } })).status).to.equal(401);
      });
    });

    describe('token endpoint over HTTP', () => {
      it('GET with Basic, POST password and refresh grants; requested ∩ allowed; errors in the token shape', async () => {
        const get = await call(h.url, 'GET', '/service/token?service=berth-registry&scope=repository:priv/app:pull,push,delete&offline_token=true', { as: cast.creds.developer });
        expect(get.status).to.equal(200);
        expect(get.headers.get('cache-control')).to.equal('no-store');
        expect(decodeJwt(get.json.token).access).to.deep.equal([{ type: 'repository', name: 'priv/app', actions: ['pull', 'push'] }]);
        expect(get.json.refresh_token).to.be.a('string');
        const form = (fields: Record<string, string>) => ({ headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });
        const password = await call(h.url, 'POST', '/service/token', form({ grant_type: 'password', username: 'u-guest', password: PASSWORD, service: 'berth-registry', scope: 'repository:priv/app:pull,push', client_id: 'test' }));
        expect(password.status).to.equal(200);
        expect(password.json.scope).to.equal('repository:priv/app:pull');
        const refresh = await call(h.url, 'POST', '/service/token', form({ grant_type: 'refresh_token', refresh_token: password.json.refresh_token, service: 'berth-registry', scope: 'repository:priv/app:pull' }));
        expect(refresh.status).to.equal(200);
        const anonymous = await call(h.url, 'GET', '/service/token?service=berth-registry&scope=repository:priv/app:pull');
        expect(decodeJwt(anonymous.json.token).access).to.deep.equal([]);
        const wrong = await call(h.url, 'GET', '/service/token?service=berth-registry', { as: ['u-guest', 'wrong'] });
        expect(wrong.status).to.equal(401);
        expect(wrong.headers.get('www-authenticate')).to.equal('Basic realm="http://registry.test/service/token",charset="UTF-8"');
        expect(wrong.json.errors[0].code).to.equal('UNAUTHORIZED');
        const json = await call(h.url, 'POST', '/service/token', { body: { grant_type: 'password' } });
        expect(json.status).to.equal(415);
        expect(json.json.error).to.equal('invalid_request');
        const huge = await call(h.url, 'POST', '/service/token', form({ grant_type: 'password', username: 'x', password: 'y'.repeat(20_000) }));
        expect(huge.status).to.equal(413);
        const put = await call(h.url, 'PUT', '/service/token');
        expect(put.status).to.equal(400);
      });
    });

    describe('audit log', () => {
      it('records changes and logins with who, what and outcome; filters by q and project; refused to non-admins', async () => {
        await call(h.url, 'GET', '/service/token?service=berth-registry', { as: ['u-guest', 'not-it'] });
        await h.audit.flush();
        const projects = await api('GET', `/audit-logs?q=${encodeURIComponent('operation=create,resource_type=project')}&page_size=100`, { as: admin() });
        const created = projects.json.map((e: { resource: string; username: string }) => `${e.username}:${e.resource}`);
        expect(created).to.include.members(['u-developer:team-a', 'u-developer:from-portal']);
        const failures = await api('GET', `/audit-logs?q=${encodeURIComponent('operation=login,outcome=failure,username=u-guest')}`, { as: admin() });
        expect(failures.json.length).to.be.greaterThan(0);
        expect(failures.json[0]).to.include({ operation: 'login', outcome: 'failure', username: 'u-guest' });
        const robots = await api('GET', `/audit-logs?q=${encodeURIComponent('resource_type=robot,resource=~robot$deployer')}`, { as: admin() });
        expect(robots.json.map((e: { operation: string }) => e.operation)).to.include.members(['create', 'update', 'delete']);
        const range = await api('GET', `/audit-logs?q=${encodeURIComponent(`op_time=[${new Date(Date.now() + 3600_000).toISOString()}~]`)}`, { as: admin() });
        expect(range.json).to.deep.equal([]);
        expect((await api('GET', '/audit-logs?q=op_time=soon', { as: admin() })).status).to.equal(400);
        const privLogs = await api('GET', '/projects/priv/logs?page_size=100', { as: cast.creds.guest });
        expect(privLogs.json.every((e: { project: string }) => e.project === 'priv')).to.equal(true);
        expect(privLogs.json.map((e: { resource_type: string }) => e.resource_type)).to.include.members(['member', 'tag', 'artifact', 'repository']);
        const all = JSON.stringify((await api('GET', '/audit-logs?page_size=100', { as: admin() })).json);
        expect(all).to.not.contain(PASSWORD);
      });
    });

    describe('completeness (runs last)', () => {
      it('no password, secret or token reached the server log', async () => {
        const log = h.logLines.join('\n');
        // The server did log these flows (at debug), so the search below means something.
        expect(log).to.contain('/api/v2.0/users/current');
        expect(log).to.contain('/c/login');
        expect(log).to.contain('token request');
        expect(log).to.not.contain(PASSWORD);
        for (const creds of Object.values(cast.creds)) if (creds) expect(log).to.not.contain(creds[1]);
        expect(log).to.not.contain('Carol-Passw0rd');
      });

      it('exercised every operation of the OpenAPI document', () => {
        const documented = OPERATIONS.map((op) => `${op.method.toUpperCase()} ${op.path}`);
        const seen = exercised.get(h.url) ?? new Set<string>();
        expect(documented.filter((op) => !seen.has(op))).to.deep.equal([]);
      });
    });
  });
}
