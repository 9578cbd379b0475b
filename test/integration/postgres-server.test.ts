import fs from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { postgresAnswers } from '../../src/dev/services';
import { privatePostgres, type RestartableService } from '../helpers/private-stack';

/**
 * The PostgreSQL that tests start themselves: a SIGKILL is a real crash (no shutdown checkpoint),
 * and a restart on the same data folder recovers every committed row and nothing else.
 */
let server: RestartableService & { url: string };

beforeAll(async () => {
  server = await privatePostgres();
});
afterAll(() => server?.stop());

async function connect(url: string): Promise<Client> {
  const client = new Client({ connectionString: url });
  client.on('error', () => undefined); // the kill below breaks this connection on purpose
  await client.connect();
  return client;
}

test('the run has its own PostgreSQL at TEST_DATABASE_URL', async () => {
  expect(process.env.TEST_DATABASE_URL).toMatch(/^postgres:\/\/postgres:postgres@127\.0\.0\.1:\d+\/sistava$/);
  expect(await postgresAnswers(process.env.TEST_DATABASE_URL!)).toBe(true);
});

test('a committed row survives a SIGKILL of the server and a restart on the same data', async () => {
  expect(server.url).toMatch(/^postgres:\/\/postgres:postgres@127\.0\.0\.1:\d+\/sistava$/);
  const before = await connect(server.url);
  await before.query('CREATE TABLE drill (id int PRIMARY KEY, note text NOT NULL)');
  await before.query("INSERT INTO drill VALUES (1, 'committed')");
  const dataDir = (await before.query('SHOW data_directory')).rows[0].data_directory as string;
  const inFlight = await connect(server.url);
  await inFlight.query('BEGIN');
  await inFlight.query("INSERT INTO drill VALUES (2, 'never committed')");

  const postmaster = server.current.process!;
  await server.kill('SIGKILL');
  expect(postmaster.signalCode).toBe('SIGKILL');
  expect(await postgresAnswers(server.url)).toBe(false);
  await Promise.all([before.end().catch(() => undefined), inFlight.end().catch(() => undefined)]);

  await server.restart();
  expect(await postgresAnswers(server.url)).toBe(true);
  const after = await connect(server.url);
  try {
    const { rows } = await after.query('SELECT id, note FROM drill ORDER BY id');
    expect(rows).toEqual([{ id: 1, note: 'committed' }]);
    expect((await after.query('SHOW data_directory')).rows[0].data_directory).toBe(dataDir);
  } finally {
    await after.end();
  }
  // The restart had to recover from the WAL: the server did not get to shut down.
  const log = fs.readFileSync(path.join(path.dirname(dataDir), 'postgres.log'), 'utf8');
  expect(log).toMatch(/not properly shut down; automatic recovery in progress/);
});
