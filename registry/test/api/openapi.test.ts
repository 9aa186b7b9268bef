/** The operations table and the document generated from it are well formed; `q` parsing. */
import { expect } from 'chai';
import { openApiDocument, OPERATIONS } from '../../src/api/index.ts';
import { pathParameters, routerPath } from '../../src/api/operations.ts';
import { parseQ } from '../../src/api/paging.ts';
import { ApiError } from '../../src/api/errors.ts';

describe('OpenAPI document from the operations table', () => {
  const doc = openApiDocument('1.2.3') as { openapi: string; info: { version: string }; paths: Record<string, Record<string, any>> };

  it('has unique operation ids and unique method + path pairs', () => {
    const ids = OPERATIONS.map((op) => op.id);
    expect(new Set(ids).size).to.equal(ids.length);
    const keys = OPERATIONS.map((op) => `${op.method} ${op.path}`);
    expect(new Set(keys).size).to.equal(keys.length);
  });

  it('declares every path parameter, a default error response and, for writes, a JSON body', () => {
    expect(doc.openapi).to.equal('3.1.0');
    expect(doc.info.version).to.equal('1.2.3');
    for (const op of OPERATIONS) {
      const operation = doc.paths[op.path]![op.method]!;
      const declared = operation.parameters.filter((p: { in: string }) => p.in === 'path').map((p: { name: string }) => p.name);
      expect(declared, op.id).to.deep.equal(pathParameters(op.path));
      expect(operation.responses.default.content['application/json'].schema.properties.errors, op.id).to.not.equal(undefined);
      if (op.request) expect(operation.requestBody.content['application/json'].schema, op.id).to.not.equal(undefined);
      if (op.paged) expect(operation.parameters.map((p: { name: string }) => p.name), op.id).to.include.members(['page', 'page_size', 'q']);
    }
  });

  it('serialises to JSON without losing schemas, and maps templates to router paths', () => {
    const round = JSON.parse(JSON.stringify(doc));
    expect(round.paths['/projects'].post.requestBody.content['application/json'].schema.required).to.deep.equal(['project_name']);
    expect(routerPath('/projects/{project_name}/repositories/{repository_name}')).to.equal('/api/v2.0/projects/:project_name/repositories/:repository_name');
  });
});

describe("Harbor's q parameter", () => {
  const q = (text: string) => new URLSearchParams({ q: text });

  it('reads exact, fuzzy and range terms', () => {
    const terms = parseQ(q('name=~foo,public=true,op_time=[2026-01-01 00:00:00~2026-02-01 00:00:00]'), ['name', 'public', 'op_time']);
    expect(Object.fromEntries(terms)).to.deep.equal({
      name: { kind: 'fuzzy', value: 'foo' },
      public: { kind: 'exact', value: 'true' },
      op_time: { kind: 'range', from: '2026-01-01 00:00:00', to: '2026-02-01 00:00:00' },
    });
    expect(Object.fromEntries(parseQ(q('op_time=[~2026-02-01]'), ['op_time']))).to.deep.equal({ op_time: { kind: 'range', to: '2026-02-01' } });
    expect(parseQ(new URLSearchParams(), ['name']).size).to.equal(0);
  });

  it('refuses unknown keys and terms without a value', () => {
    expect(() => parseQ(q('colour=red'), ['name'])).to.throw(ApiError, /unknown key colour/);
    expect(() => parseQ(q('name'), ['name'])).to.throw(ApiError, /not key=value/);
  });
});
