import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort, makeRunDir, startPostgresServer, startRedisServer, startTemporalDevServer, type RunningService } from '../../src/dev/services';
import { findTemporalCli } from '../../src/dev/temporal-cli';

/**
 * A Redis, PostgreSQL or Temporal server of a test's own, for drills that kill and restart it:
 * the suite's shared servers must stay up for the other test files running beside it.
 */
export interface RestartableService {
  address: string;
  current: RunningService;
  kill(signal?: NodeJS.Signals): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

function tempDir(prefix: string): string {
  return makeRunDir(prefix);
}

/** redis-server with AOF fsynced on every write, so a SIGKILL loses nothing it acknowledged; `debugCommand`: DEBUG SLEEP allowed. */
export async function privateRedis(opts: { debugCommand?: boolean } = {}): Promise<RestartableService> {
  const dir = tempDir('sistava-drill-redis-');
  const port = await freePort();
  const start = () => startRedisServer({ port, dir, appendfsync: 'always', logFile: path.join(dir, 'redis.log'), debugCommand: opts.debugCommand });
  return restartable(await start(), start, dir);
}

/** A Temporal dev server on a SQLite file: a restart keeps every workflow. */
export async function privateTemporal(): Promise<RestartableService> {
  const dir = tempDir('sistava-drill-temporal-');
  const port = await freePort();
  const start = () => startTemporalDevServer({ cli: findTemporalCli(), port, dbFile: path.join(dir, 'temporal.db'), logFile: path.join(dir, 'temporal.log') });
  return restartable(await start(), start, dir);
}

/**
 * PostgreSQL with fsync on: a SIGKILL loses no committed transaction. A restart reuses the port and
 * the data folder, so `url` stays valid.
 */
export async function privatePostgres(): Promise<RestartableService & { url: string }> {
  const dir = tempDir('sistava-drill-postgres-');
  const port = await freePort();
  const start = () => startPostgresServer({ port, dataDir: path.join(dir, 'data'), logFile: path.join(dir, 'postgres.log') });
  const first = await start();
  return Object.assign(restartable(first, start, dir), { url: first.url });
}

/**
 * Applies the migrations to a private PostgreSQL: `migrate(url)` (src/stores/postgres/migrate.ts)
 * run through its entry point, src/migrate.ts, in a Node process of its own. Not in the test's
 * process: node-pg-migrate is an ES module, which jest's module loader cannot import (the global
 * setup, outside that loader, calls `migrate` directly). Resolves with what it printed.
 */
export function migratePrivate(url: string): Promise<string> {
  const root = path.resolve(__dirname, '..', '..');
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/migrate.ts'],
      { cwd: root, env: { ...process.env, DATABASE_URL: url }, timeout: 60_000 },
      (err, stdout, stderr) => (err ? reject(new Error(`migrate ${url} failed: ${err.message}\n${stdout}${stderr}`)) : resolve(stdout)),
    );
  });
}

function restartable(first: RunningService, start: () => Promise<RunningService>, dir: string): RestartableService {
  const service: RestartableService = {
    address: first.address,
    current: first,
    kill: (signal = 'SIGKILL') => service.current.stop(signal),
    async restart() {
      service.current = await start();
    },
    async stop() {
      await service.current.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return service;
}
