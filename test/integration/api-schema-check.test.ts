import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { startApi } from '../../src/api';
import { AppRoleError } from '../../src/stores/postgres/app-role';
import { expectedMigrations, MIGRATIONS_TABLE, SchemaOutdatedError } from '../../src/stores/postgres/migrate';
import { eventually, testConfig } from '../helpers/harness';
import { startService } from '../helpers/processes';

/**
 * The API refuses to run against a database whose schema lacks a migration this code ships, and its
 * message tells the operator what to run. Each case gets a database of its own on the suite's server.
 */
const admin = new pg.Pool({ connectionString: process.env.TEST_DATABASE_URL, max: 2 });
const created: string[] = [];

async function freshDatabase(): Promise<string> {
  const name = `schema_check_${randomUUID().replaceAll('-', '')}`;
  await admin.query(`CREATE DATABASE ${name}`);
  created.push(name);
  const url = new URL(process.env.TEST_DATABASE_URL!);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * Until no connection is open to the database: a refused start must leave none behind. A closed
 * client's server process leaves pg_stat_activity a moment after the client is told it closed,
 * so this polls; a leaked pool connection would stay for the pool's 30 s idle timeout.
 */
async function expectNoConnectionsTo(url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  const open = async () => (await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [name])).rows[0].n;
  await eventually(`no connection left to ${name}`, async () => ((await open()) === 0 ? true : undefined), 5_000);
}

/** What `npm run migrate` runs, as its own process (node-pg-migrate is an ES module jest cannot load). */
async function runMigrate(url: string): Promise<string> {
  const run = startService('src/migrate.ts', { DATABASE_URL: url });
  const code = await run.exited;
  const output = run.output.join('');
  if (code !== 0) throw new Error(`migrate exited ${code}: ${output}`);
  return output;
}

/** startApi's outcome; an API that started after all is closed at once, so nothing outlives the test. */
async function startOutcome(url: string): Promise<unknown> {
  const config = testConfig({ DATABASE_URL: url, PORT: '0', HOST: '127.0.0.1' });
  try {
    const api = await startApi(config);
    await api.close();
    return 'started';
  } catch (err) {
    return err;
  }
}

afterAll(async () => {
  for (const name of created) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
});

describe('startApi against a schema that lacks a migration', () => {
  it('refuses an empty database (no application role yet), naming `npm run migrate`, and leaves no connection open', async () => {
    const url = await freshDatabase();
    const err = await startOutcome(url);
    expect(err).toBeInstanceOf(AppRoleError);
    const message = (err as Error).message;
    expect(message).toContain(`PostgreSQL refused the application role ${new URL(url).pathname.slice(1)}_app`);
    expect(message).toContain('npm run migrate');
    await expectNoConnectionsTo(url);
  });

  it('refuses a database whose migrations table is empty, naming every migration', async () => {
    const url = await freshDatabase();
    await runMigrate(url);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(`DELETE FROM ${MIGRATIONS_TABLE}`);
    } finally {
      await client.end();
    }
    const err = await startOutcome(url);
    expect(err).toBeInstanceOf(SchemaOutdatedError);
    expect(expectedMigrations().length).toBeGreaterThan(0);
    for (const name of expectedMigrations()) expect((err as Error).message).toContain(name);
    await expectNoConnectionsTo(url);
  });

  it('refuses a database migrated but for the newest migration, naming only that one', async () => {
    const url = await freshDatabase();
    expect(await runMigrate(url)).toContain(`Applied ${expectedMigrations().length} migration(s).`);
    const newest = expectedMigrations().at(-1)!;
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(`DELETE FROM ${MIGRATIONS_TABLE} WHERE name = $1`, [newest]);
    } finally {
      await client.end();
    }
    const err = await startOutcome(url);
    expect(err).toBeInstanceOf(SchemaOutdatedError);
    const message = (err as Error).message;
    expect(message).toMatch(/1 migration\(s\) not applied/);
    expect(message).toContain(newest);
    for (const older of expectedMigrations().slice(0, -1)) expect(message).not.toContain(older);
    expect(message).toContain('npm run migrate');
    await expectNoConnectionsTo(url);
  });

  it('starts once `npm run migrate` has brought the refused schema up to date', async () => {
    const url = await freshDatabase();
    expect(await startOutcome(url)).toBeInstanceOf(AppRoleError);
    await runMigrate(url);
    expect(await startOutcome(url)).toBe('started');
    await expectNoConnectionsTo(url);
  }, 30_000);

  it('exits the API process non-zero with the message on stderr', async () => {
    const url = await freshDatabase();
    const api = startService('src/api.ts', { DATABASE_URL: url, PORT: '0', HOST: '127.0.0.1' });
    expect(await api.exited).toBe(1);
    expect(api.output.join('')).toMatch(/api failed to start: PostgreSQL refused the application role .*Run `npm run migrate`/);
  }, 30_000);
});
