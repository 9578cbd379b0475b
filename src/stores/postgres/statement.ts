import type { Pool, PoolClient, QueryResultRow } from 'pg';

/** A pool, or a client holding a transaction. */
export type Queryable = Pool | PoolClient;

/**
 * One SQL statement, named and written where it is defined. Parameters are `:name` placeholders,
 * passed as an object by name, never by position. The statement runs as a server-side prepared
 * statement under its name: PostgreSQL parses and plans it once per connection.
 */
export interface Statement<P, R extends QueryResultRow> {
  readonly name: string;
  readonly text: string;
  run(db: Queryable, params: P): Promise<R[]>;
}

/** `:name` not preceded by another colon, so `::uuid` casts stay as they are. */
const PLACEHOLDER = /(?<!:):([A-Za-z_][A-Za-z0-9_]*)/g;

/**
 * Defines a statement: `:name` placeholders become `$1…$n` once, here, and every run maps the
 * parameter object onto them (an absent optional value is SQL NULL).
 */
export function statement<P extends object = Record<string, never>, R extends QueryResultRow = QueryResultRow>(name: string, sql: string): Statement<P, R> {
  const order: string[] = [];
  const text = sql.replace(PLACEHOLDER, (_match, param: string) => {
    let index = order.indexOf(param);
    if (index < 0) index = order.push(param) - 1;
    return `$${index + 1}`;
  });
  return {
    name,
    text,
    async run(db, params) {
      const values = order.map((param) => (params as Record<string, unknown>)[param] ?? null);
      const result = await db.query<R>({ name, text, values });
      return result.rows;
    },
  };
}
