import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

export interface ServiceProcess {
  name: string;
  child: ChildProcess;
  output: string[];
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const running = new Set<ServiceProcess>();

/** The environment of a service process on the suite's servers, with `env` over it. */
export function serviceEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DATABASE_URL: process.env.TEST_DATABASE_URL,
    REDIS_URL: process.env.TEST_REDIS_URL,
    TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS,
    WORKFLOW_BUNDLE_PATH: process.env.WORKFLOW_BUNDLE_PATH,
    LOG_LEVEL: 'warn',
    // The Schedule is one per dev server: the test that checks it owns it, and workers on their own
    // task queues must not point it elsewhere while it runs.
    RECONCILE_SCHEDULE: 'false',
    ...env,
  };
}

/**
 * Runs an entry point (`src/api.ts`, `src/worker.ts`) as its own Node process, the way production
 * runs it, with the suite's PostgreSQL, Redis and Temporal (`env` overrides any of them: a drill
 * that kills a server points the process at a private one). Node itself runs the file (tsx as a
 * loader), so a signal reaches the service directly.
 */
export function startService(file: string, env: Record<string, string | undefined>): ServiceProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: serviceEnv(env) });
  const output: string[] = [];
  child.stdout.on('data', (d: Buffer) => output.push(d.toString()));
  child.stderr.on('data', (d: Buffer) => output.push(d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const service: ServiceProcess = {
    name: path.basename(file),
    child,
    output,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  running.add(service);
  void exited.then(() => running.delete(service));
  return service;
}

/** For afterAll: nothing a test started outlives it. */
export async function killAllServices(): Promise<void> {
  await Promise.all([...running].map((s) => s.stop('SIGKILL')));
}
