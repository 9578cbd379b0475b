import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, startPostgresServer, startRedisServer, startTemporalDevServer, type RunningService } from '../../src/dev/services';
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
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** redis-server with AOF fsynced on every write, so a SIGKILL loses nothing it acknowledged. */
export async function privateRedis(): Promise<RestartableService> {
  const dir = tempDir('sistava-drill-redis-');
  const port = await freePort();
  const start = () => startRedisServer({ port, dir, appendfsync: 'always', logFile: path.join(dir, 'redis.log') });
  return restartable(await start(), start, dir);
}

/** A Temporal dev server on a SQLite file: a restart keeps every workflow. */
export async function privateTemporal(): Promise<RestartableService> {
  const dir = tempDir('sistava-drill-temporal-');
  const port = await freePort();
  const start = () =>
    startTemporalDevServer({ cli: findTemporalCli(), port, dbFile: path.join(dir, 'temporal.db'), logFile: path.join(dir, 'temporal.log') });
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
