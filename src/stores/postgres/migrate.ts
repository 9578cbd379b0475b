import fs from 'node:fs';
import path from 'node:path';
import type pg from 'pg';

/** The versioned migrations, in `src/stores/migrations` (copied next to the built code by the Dockerfile). */
export const MIGRATIONS_DIR = path.resolve(__dirname, '..', 'migrations');
export const MIGRATIONS_TABLE = 'schema_migrations';

/** The migrations this code expects, by name (file name without extension), in order. */
export function expectedMigrations(dir = MIGRATIONS_DIR): string[] {
  return fs
    .readdirSync(dir)
    .filter((file) => file.endsWith('.sql'))
    .map((file) => file.replace(/\.sql$/, ''))
    .sort();
}

/**
 * Applies every pending migration with node-pg-migrate (each in its own transaction, under an
 * advisory lock, so two processes migrating at once do not both apply one). Returns the names applied.
 */
export async function migrate(databaseUrl: string, log: (line: string) => void = () => undefined): Promise<string[]> {
  // node-pg-migrate is an ES module; Node 20.19+ loads it from CommonJS.
  const { runner } = await import('node-pg-migrate');
  const applied = await runner({
    databaseUrl,
    dir: MIGRATIONS_DIR,
    migrationsTable: MIGRATIONS_TABLE,
    direction: 'up',
    checkOrder: true,
    log,
    logger: { debug: () => undefined, info: log, warn: log, error: log },
  });
  return applied.map((m) => m.name);
}

export class SchemaOutdatedError extends Error {}

/**
 * Refuses to run code against an older schema: every migration this code ships must be applied.
 * The message names the command that fixes it.
 */
export async function assertSchemaCurrent(pool: pg.Pool): Promise<void> {
  const expected = expectedMigrations();
  let applied: string[];
  try {
    applied = (await pool.query<{ name: string }>(`SELECT name FROM ${MIGRATIONS_TABLE}`)).rows.map((r) => r.name);
  } catch (err) {
    if ((err as { code?: string }).code !== '42P01') throw err;
    applied = [];
  }
  const missing = expected.filter((name) => !applied.includes(name));
  if (missing.length > 0) {
    throw new SchemaOutdatedError(
      `The database schema is older than this code: ${missing.length} migration(s) not applied (${missing.join(', ')}). ` +
        'Run `npm run migrate` (with the same DATABASE_URL), then start again.',
    );
  }
}
