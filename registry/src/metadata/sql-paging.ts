/**
 * Building blocks of the listing queries that take filters and Harbor-style pages
 * (SqlAccessStore, and the management listings of SqlMetadataStore).
 */
import { InvalidInputError } from './errors.ts';
import type { OffsetPage, Paged, SqlExecutor } from './store.ts';

/** SQL fragments (conditions or assignments) with their parameters numbered in order. */
export class SqlConditions {
  readonly parts: string[] = [];
  readonly params: unknown[] = [];

  /** Adds a parameter; returns its placeholder ($n). */
  param(value: unknown): string {
    this.params.push(value);
    return `$${this.params.length}`;
  }

  add(part: string): void {
    this.parts.push(part);
  }

  /** " WHERE a AND b", or "" without conditions. */
  where(): string {
    return this.parts.length > 0 ? ' WHERE ' + this.parts.join(' AND ') : '';
  }
}

export function checkPage(page: OffsetPage): void {
  if (!Number.isSafeInteger(page.page) || page.page < 1) throw new InvalidInputError('page must be an integer of at least 1');
  if (!Number.isSafeInteger(page.pageSize) || page.pageSize < 1) {
    throw new InvalidInputError('page size must be an integer of at least 1');
  }
}

/** One page of `select + from + where ORDER BY order`, and the total count of matches. */
export async function paged<Row, T>(
  db: SqlExecutor,
  select: string,
  from: string,
  where: SqlConditions,
  order: string,
  page: OffsetPage,
  map: (row: Row) => T,
): Promise<Paged<T>> {
  checkPage(page);
  const clause = where.where();
  const [{ total } = { total: 0 }] = await db.query<{ total: number }>(`SELECT count(*) AS total${from}${clause}`, where.params);
  if (total === 0) return { items: [], total };
  const params = [...where.params, page.pageSize, (page.page - 1) * page.pageSize];
  const rows = await db.query<Row>(
    `${select}${from}${clause} ORDER BY ${order} LIMIT $${params.length - 1} OFFSET $${params.length}`,
    params,
  );
  return { items: rows.map(map), total };
}

/** A LIKE pattern matching values that start with `prefix` (its % _ \ taken literally). */
export function likePrefix(prefix: string): string {
  return prefix.replace(/[\\%_]/g, (c) => '\\' + c) + '%';
}
