/** Harbor-style paging (page, page_size, X-Total-Count, Link) and `q` query parsing. */
import type { OffsetPage } from '../metadata/store.ts';
import type { ApiRequest, ApiResult } from './context.ts';
import { ApiError } from './errors.ts';

export const DEFAULT_PAGE_SIZE = 10;
export const MAX_PAGE_SIZE = 100;

export function pageOf(query: URLSearchParams): OffsetPage {
  const page = integerParam(query, 'page', 1);
  const pageSize = integerParam(query, 'page_size', DEFAULT_PAGE_SIZE);
  if (page < 1) throw new ApiError('BAD_REQUEST', 'page must be at least 1');
  if (pageSize < 1 || pageSize > MAX_PAGE_SIZE) throw new ApiError('BAD_REQUEST', `page_size must be between 1 and ${MAX_PAGE_SIZE}`);
  return { page, pageSize };
}

function integerParam(query: URLSearchParams, name: string, fallback: number): number {
  const text = query.get(name);
  if (text === null || text === '') return fallback;
  if (!/^\d{1,9}$/.test(text)) throw new ApiError('BAD_REQUEST', `${name} must be a positive integer`);
  return Number(text);
}

/** A page of items with X-Total-Count and Link (rel prev/next, Harbor's format). */
export function pagedResult(request: ApiRequest, items: unknown[], total: number, page: OffsetPage): ApiResult {
  const links: string[] = [];
  const link = (n: number, rel: string) => {
    const query = new URLSearchParams(request.query);
    query.set('page', String(n));
    query.set('page_size', String(page.pageSize));
    links.push(`<${request.path}?${query.toString()}>; rel="${rel}"`);
  };
  if (page.page > 1) link(page.page - 1, 'prev');
  if (page.page * page.pageSize < total) link(page.page + 1, 'next');
  const headers: Record<string, string> = { 'X-Total-Count': String(total) };
  if (links.length > 0) headers['Link'] = links.join(' , ');
  return { status: 200, body: items, headers };
}

export type QueryTerm =
  | { kind: 'exact'; value: string }
  | { kind: 'fuzzy'; value: string }
  | { kind: 'range'; from?: string; to?: string };

/**
 * Harbor's `q`: comma-separated `key=value` (exact), `key=~value` (fuzzy) and `key=[a~b]`
 * (range, either end optional). Keys outside `allowed` are refused, not ignored, so a typo
 * does not silently return everything.
 */
export function parseQ(query: URLSearchParams, allowed: readonly string[]): Map<string, QueryTerm> {
  const terms = new Map<string, QueryTerm>();
  const q = query.get('q');
  if (q === null || q.trim() === '') return terms;
  for (const part of q.split(',')) {
    const index = part.indexOf('=');
    if (index <= 0) throw new ApiError('BAD_REQUEST', `q: "${part.slice(0, 64)}" is not key=value`);
    const key = part.slice(0, index).trim();
    const raw = part.slice(index + 1).trim();
    if (!allowed.includes(key)) throw new ApiError('BAD_REQUEST', `q: unknown key ${key.slice(0, 64)} (known: ${allowed.join(', ')})`);
    if (raw.startsWith('~')) terms.set(key, { kind: 'fuzzy', value: raw.slice(1) });
    else if (raw.startsWith('[') && raw.endsWith(']')) {
      const [from = '', to = ''] = raw.slice(1, -1).split('~');
      terms.set(key, { kind: 'range', ...(from.trim() ? { from: from.trim() } : {}), ...(to.trim() ? { to: to.trim() } : {}) });
    } else terms.set(key, { kind: 'exact', value: raw });
  }
  return terms;
}

export function termText(term: QueryTerm | undefined): string | undefined {
  return term === undefined || term.kind === 'range' ? undefined : term.value;
}

export function booleanParam(text: string | null | undefined, name: string): boolean | undefined {
  if (text === null || text === undefined || text === '') return undefined;
  if (text === 'true' || text === '1') return true;
  if (text === 'false' || text === '0') return false;
  throw new ApiError('BAD_REQUEST', `${name} must be true or false`);
}
