import type pg from 'pg';

const quote = (identifier: string) => `"${identifier.replaceAll('"', '""')}"`;

/**
 * Where each needle occurs in the database, as `table.column` names: every column of every table
 * (listed from information_schema, so a table added later is searched too), each value read as
 * text (bytea decoded as bytes), whatever its type: what an attacker with a copy of PostgreSQL
 * would read. Sees rows other tests write meanwhile too.
 */
export async function findInPostgres(db: pg.Pool, needles: string[]): Promise<Map<string, string[]>> {
  const { rows: columns } = await db.query<{ table_schema: string; table_name: string; column_name: string; data_type: string }>(
    `SELECT c.table_schema, c.table_name, c.column_name, c.data_type
     FROM information_schema.columns c
     JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
     WHERE t.table_type = 'BASE TABLE' AND c.table_schema NOT IN ('pg_catalog', 'information_schema')
     ORDER BY c.table_schema, c.table_name, c.ordinal_position`,
  );
  if (columns.length === 0) throw new Error('found no table to search: wrong database?');
  const found = new Map<string, string[]>(needles.map((n) => [n, []]));
  for (const c of columns) {
    const value = c.data_type === 'bytea' ? `encode(${quote(c.column_name)}, 'escape')` : `${quote(c.column_name)}::text`;
    const { rows } = await db.query<{ needle: string }>(
      `SELECT needle FROM unnest($1::text[]) AS needle
       WHERE EXISTS (SELECT 1 FROM ${quote(c.table_schema)}.${quote(c.table_name)} WHERE strpos(${value}, needle) > 0)`,
      [needles],
    );
    const where = c.table_schema === 'public' ? `${c.table_name}.${c.column_name}` : `${c.table_schema}.${c.table_name}.${c.column_name}`;
    for (const { needle } of rows) found.get(needle)!.push(where);
  }
  return found;
}
