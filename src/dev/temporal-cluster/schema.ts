import fs from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { stderrLog, type Log } from '../go-tools';
import type { PostgresEndpoint } from './postgres-endpoint';
import { run } from './run-tool';

/** Temporal's two databases on the cluster's PostgreSQL. */
export const DATABASES = { default: 'temporal', visibility: 'temporal_visibility' } as const;

/**
 * Databases `temporal` and `temporal_visibility`: created when missing, given the schema tool's
 * version table at 0.0 when new, then upgraded to the newest version in the module's versioned folders
 * (a no-op when current). This is how an operator upgrades Temporal's schema before a server upgrade.
 */
export async function setUpSchemas(sqlTool: string, pgEndpoint: PostgresEndpoint, moduleDir: string, log: Log = stderrLog): Promise<void> {
  const base = ['--plugin', 'postgres12', '--ep', pgEndpoint.host, '-p', String(pgEndpoint.port), '-u', pgEndpoint.user];
  if (pgEndpoint.password) base.push('--pw', pgEndpoint.password);
  const folders = {
    [DATABASES.default]: path.join(moduleDir, 'schema', 'postgresql', 'v12', 'temporal', 'versioned'),
    [DATABASES.visibility]: path.join(moduleDir, 'schema', 'postgresql', 'v12', 'visibility', 'versioned'),
  };
  for (const [db, dir] of Object.entries(folders)) {
    if (!fs.existsSync(dir)) throw new Error(`no versioned schema folder at ${dir}`);
    const args = [...base, '--db', db];
    const existed = await databaseExists(pgEndpoint, db);
    if (!existed) await run(sqlTool, [...args, 'create-database']);
    if (!(await hasVersionTable(pgEndpoint, db))) await run(sqlTool, [...args, 'setup-schema', '-v', '0.0']);
    const before = await schemaVersion(pgEndpoint, db);
    await run(sqlTool, [...args, 'update-schema', '-d', dir]);
    const after = await schemaVersion(pgEndpoint, db);
    log(`Temporal schema: ${db} ${existed ? '' : 'created, '}${before === after ? `at version ${after}` : `upgraded ${before ?? 'none'} → ${after}`}`);
  }
}

async function withDatabase<T>(pgEndpoint: PostgresEndpoint, database: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ ...pgEndpoint, database, connectionTimeoutMillis: 5_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

function databaseExists(pgEndpoint: PostgresEndpoint, name: string): Promise<boolean> {
  return withDatabase(pgEndpoint, 'postgres', async (c) => Boolean((await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount));
}

function hasVersionTable(pgEndpoint: PostgresEndpoint, db: string): Promise<boolean> {
  return withDatabase(
    pgEndpoint,
    db,
    async (c) => (await c.query<{ t: string | null }>(`SELECT to_regclass('public.schema_version') AS t`)).rows[0].t !== null,
  );
}

function schemaVersion(pgEndpoint: PostgresEndpoint, db: string): Promise<string | undefined> {
  return withDatabase(pgEndpoint, db, async (c) => {
    const { rows } = await c.query<{ curr_version: string }>('SELECT curr_version FROM schema_version LIMIT 1').catch(() => ({ rows: [] }));
    return rows[0]?.curr_version;
  });
}
