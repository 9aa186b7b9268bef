import { expect } from 'chai';
import { formatBasicChallenge, formatBearerChallenge, parseAuthorization } from '../../src/auth/challenge.ts';
import { AuthError } from '../../src/auth/errors.ts';
import { actionsForMethod, formatScope, MAX_SCOPES_PER_REQUEST, mergeScopes, parseScope, parseScopeParams, projectOf } from '../../src/auth/scope.ts';

describe('auth/scope: the Docker token scope grammar', () => {
  const cases: Array<[string, { type: string; class?: string; name: string; actions: string[] }]> = [
    ['repository:library/alpine:pull', { type: 'repository', name: 'library/alpine', actions: ['pull'] }],
    ['repository:a/b/c:pull,push', { type: 'repository', name: 'a/b/c', actions: ['pull', 'push'] }],
    ['repository:localhost:5000/team/app:pull,push', { type: 'repository', name: 'localhost:5000/team/app', actions: ['pull', 'push'] }],
    ['repository(plugin):team/plug:pull', { type: 'repository', class: 'plugin', name: 'team/plug', actions: ['pull'] }],
    ['registry:catalog:*', { type: 'registry', name: 'catalog', actions: ['*'] }],
    ['repository:p/r:pull,pull,delete', { type: 'repository', name: 'p/r', actions: ['pull', 'delete'] }],
    ['repository:p/r:', { type: 'repository', name: 'p/r', actions: [] }],
  ];
  for (const [text, expected] of cases) {
    it(`parses ${text}`, () => {
      expect(parseScope(text)).to.deep.equal(expected);
    });
  }

  it('formats back to the wire form (round trip)', () => {
    for (const text of ['repository:localhost:5000/team/app:pull,push', 'repository(plugin):x/y:pull', 'registry:catalog:*']) {
      expect(formatScope(parseScope(text))).to.equal(text);
    }
  });

  for (const bad of ['', 'repository', 'repository:pull', ':name:pull', 'Repo:x/y:pull', 'repository:x y:pull', 'repository::pull', 'repository:x/y:PULL', 'repo(:x:pull']) {
    it(`rejects ${JSON.stringify(bad)} with INVALID_REQUEST`, () => {
      expect(() => parseScope(bad)).to.throw(AuthError).with.property('code', 'INVALID_REQUEST');
    });
  }

  it('takes repeated scope params and space-joined ones, merging the same resource', () => {
    const scopes = parseScopeParams(['repository:p/a:pull', 'repository:p/b:push repository:p/a:push', 'registry:catalog:*']);
    expect(scopes).to.deep.equal([
      { type: 'repository', name: 'p/a', actions: ['pull', 'push'] },
      { type: 'repository', name: 'p/b', actions: ['push'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ]);
    expect(parseScopeParams(undefined)).to.deep.equal([]);
    expect(parseScopeParams('repository:p/a:pull')).to.have.length(1);
  });

  it('bounds the number and length of scopes in one request', () => {
    const many = Array.from({ length: MAX_SCOPES_PER_REQUEST + 1 }, (_, i) => `repository:p/r${i}:pull`);
    expect(parseScopeParams(many.slice(0, MAX_SCOPES_PER_REQUEST))).to.have.length(MAX_SCOPES_PER_REQUEST);
    expect(() => parseScopeParams(many)).to.throw(AuthError).with.property('code', 'INVALID_REQUEST');
    expect(() => parseScopeParams(many.join(' '))).to.throw(AuthError).with.property('code', 'INVALID_REQUEST');
    expect(() => parseScope(`repository:p/${'a'.repeat(1100)}:pull`)).to.throw(AuthError).with.property('code', 'INVALID_REQUEST');
  });

  it('keeps classes apart when merging', () => {
    const merged = mergeScopes([parseScope('repository:p/a:pull'), parseScope('repository(plugin):p/a:push')]);
    expect(merged).to.have.length(2);
  });

  it('maps methods to actions', () => {
    expect(actionsForMethod('GET')).to.deep.equal(['pull']);
    expect(actionsForMethod('head')).to.deep.equal(['pull']);
    expect(actionsForMethod('POST')).to.deep.equal(['pull', 'push']);
    expect(actionsForMethod('PUT')).to.deep.equal(['pull', 'push']);
    expect(actionsForMethod('PATCH')).to.deep.equal(['pull', 'push']);
    expect(actionsForMethod('DELETE')).to.deep.equal(['delete']);
    expect(actionsForMethod('TRACE')).to.equal(undefined);
  });

  it('finds the project of a repository', () => {
    expect(projectOf('library/alpine')).to.equal('library');
    expect(projectOf('team/a/b')).to.equal('team');
    expect(projectOf('alpine')).to.equal(undefined);
  });
});

describe('auth/challenge: WWW-Authenticate and Authorization', () => {
  it('formats a Bearer challenge with scopes and error', () => {
    const header = formatBearerChallenge({
      realm: 'https://reg.example/service/token',
      service: 'reg.example',
      scopes: [parseScope('repository:p/a:pull,push'), parseScope('repository:p/b:pull')],
      error: 'insufficient_scope',
    });
    expect(header).to.equal(
      'Bearer realm="https://reg.example/service/token",service="reg.example",scope="repository:p/a:pull,push repository:p/b:pull",error="insufficient_scope"',
    );
  });

  it('escapes quotes in challenge values', () => {
    expect(formatBearerChallenge({ realm: 'a"b', service: 's\\' })).to.equal('Bearer realm="a\\"b",service="s\\\\"');
    expect(formatBasicChallenge('berth')).to.equal('Basic realm="berth",charset="UTF-8"');
  });

  it('parses Basic credentials with a colon in the password', () => {
    const header = `Basic ${Buffer.from('alice:pa:ss').toString('base64')}`;
    expect(parseAuthorization(header)).to.deep.equal({ scheme: 'basic', username: 'alice', password: 'pa:ss' });
    expect(parseAuthorization(`basic ${Buffer.from('robot$p+ci:x').toString('base64')}`)).to.deep.equal({
      scheme: 'basic',
      username: 'robot$p+ci',
      password: 'x',
    });
  });

  it('parses Bearer tokens; absent is undefined; malformed is null', () => {
    expect(parseAuthorization('Bearer abc.def.ghi')).to.deep.equal({ scheme: 'bearer', token: 'abc.def.ghi' });
    expect(parseAuthorization(undefined)).to.equal(undefined);
    expect(parseAuthorization('Basic !!!')).to.equal(null);
    expect(parseAuthorization(`Basic ${Buffer.from('nocolon').toString('base64')}`)).to.equal(null);
    expect(parseAuthorization('Digest x')).to.equal(null);
    expect(parseAuthorization('Bearer')).to.equal(null);
    expect(parseAuthorization(['Bearer a', 'Bearer b'])).to.equal(null);
  });
});
