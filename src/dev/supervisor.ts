import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { RunningService } from './services';

/**
 * The process supervisor of both dev stacks (`npm start`, `npm run stack:cluster`) and of the
 * cluster drills: a child that exits without being asked to stop (a crash, a SIGKILL) is started
 * again after a backoff that doubles from 0.5 s to 10 s, and starts over at 0.5 s once a child has
 * stayed up for a minute. Every exit and restart is logged:
 *   `worker-1 exited (signal SIGKILL); restarting in 0.5 s`
 */
export interface SupervisorOptions {
  /** Where the supervisor's own lines go (the stack prefixes them with `[stack]`). */
  log: (line: string) => void;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** A child that ran at least this long before it exited gets the initial backoff again. */
  resetAfterMs?: number;
}

/** What the supervisor runs: `start` spawns the process and resolves once it is running (or ready). */
export interface ChildSpec {
  name: string;
  start: () => Promise<RunningService>;
}

/** One supervised process: the same stop(signal) as RunningService, plus kill/restart. */
export interface Supervised {
  name: string;
  /** The running incarnation (undefined while it waits to be restarted). */
  current?: RunningService;
  /** Every pid it has had, first to last. */
  pids: number[];
  /** Restarts after a crash so far. */
  restarts: number;
  /** Signals it as a crash would (default SIGKILL): the supervisor restarts it with backoff. Resolves once it exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Stops it (asked, so no backoff) and starts it again at once. */
  restart(): Promise<void>;
  /** Stops it for good: no restart. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface SupervisedState {
  name: string;
  pid?: number;
  pids: number[];
  restarts: number;
  running: boolean;
}

const seconds = (ms: number) => `${Number((ms / 1000).toFixed(1))} s`;

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `signal ${signal}` : `code ${code}`;
}

export class Supervisor {
  private readonly children: Array<Supervised & { state(): SupervisedState }> = [];
  private stopping = false;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly resetAfterMs: number;

  constructor(private readonly opts: SupervisorOptions) {
    this.initialMs = opts.initialBackoffMs ?? 500;
    this.maxMs = opts.maxBackoffMs ?? 10_000;
    this.resetAfterMs = opts.resetAfterMs ?? 60_000;
  }

  /** Starts the child and supervises it from then on; rejects (and gives up on it) when the first start fails. */
  async add(spec: ChildSpec): Promise<Supervised> {
    const { log } = this.opts;
    let current: RunningService | undefined;
    let startedAt = 0;
    let backoff = this.initialMs;
    let asked = false; // stop() or restart() is under way: the exit is not a crash
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    let starting: Promise<void> | undefined;
    const pids: number[] = [];
    let restarts = 0;
    const initialMs = this.initialMs;

    const watch = (service: RunningService) => {
      current = service;
      startedAt = Date.now();
      if (service.process?.pid) pids.push(service.process.pid);
      service.process?.once('exit', (code, signal) => {
        if (current === service) current = undefined;
        if (asked || stopped || this.stopping) return;
        if (Date.now() - startedAt >= this.resetAfterMs) backoff = this.initialMs;
        log(`${spec.name} exited (${describeExit(code, signal)}); restarting in ${seconds(backoff)}`);
        schedule();
      });
    };

    const schedule = () => {
      const delay = backoff;
      backoff = Math.min(backoff * 2, this.maxMs);
      timer = setTimeout(() => {
        timer = undefined;
        if (stopped || this.stopping) return;
        starting = spec.start().then(
          (service) => {
            restarts += 1;
            if (stopped || this.stopping) {
              void service.stop();
              return;
            }
            watch(service);
            log(`${spec.name} restarted (pid ${service.process?.pid ?? '?'}, restart ${restarts})`);
          },
          (err: Error) => {
            log(`${spec.name} could not start: ${err.message.split('\n')[0]}; retrying in ${seconds(backoff)}`);
            schedule();
          },
        );
        void starting.finally(() => (starting = undefined));
      }, delay);
    };

    watch(await spec.start());

    const child = {
      name: spec.name,
      get current() {
        return current;
      },
      pids,
      get restarts() {
        return restarts;
      },
      async kill(signal: NodeJS.Signals = 'SIGKILL') {
        await current?.stop(signal);
      },
      async restart() {
        asked = true;
        try {
          if (timer) clearTimeout(timer);
          timer = undefined;
          await starting;
          await current?.stop();
          watch(await spec.start());
          backoff = initialMs;
        } finally {
          asked = false;
        }
      },
      async stop(signal?: NodeJS.Signals) {
        stopped = true;
        if (timer) clearTimeout(timer);
        await starting?.catch(() => undefined);
        await current?.stop(signal);
      },
      state: (): SupervisedState => ({ name: spec.name, pid: current?.process?.pid, pids: [...pids], restarts, running: current !== undefined }),
    };
    this.children.push(child);
    return child;
  }

  get(name: string): Supervised | undefined {
    return this.children.find((c) => c.name === name);
  }

  state(): SupervisedState[] {
    return this.children.map((c) => c.state());
  }

  /**
   * Stops every child, in groups, each group all at once: e.g. `[['api-1', 'worker-1'], ['temporal']]`
   * stops the APIs and workers first (they drain), then the servers. Children not named come last, newest first.
   */
  async stopAll(order: string[][] = []): Promise<void> {
    this.stopping = true;
    const named = new Set(order.flat());
    for (const group of order) await Promise.all(this.children.filter((c) => group.includes(c.name)).map((c) => c.stop()));
    for (const child of this.children.filter((c) => !named.has(c.name)).reverse()) await child.stop();
  }
}

export interface NodeServiceOptions {
  /** Appends the child's output to this file. */
  logFile?: string;
  /** Copies each line to our stdout/stderr prefixed with `[name]` (default true). */
  echo?: boolean;
}

const ROOT = path.resolve(__dirname, '..', '..');

/**
 * An entry point of this repo (`src/api.ts`, `src/worker.ts`) as its own Node process (tsx as a
 * loader, so signals reach the service itself). It runs in a process group of its own: a Ctrl-C
 * in the terminal reaches only the stack, which then stops its children in order. It is tied to
 * this process by an IPC channel: when the supervisor dies (SIGKILL, a crash), the child stops too.
 */
export function spawnNodeService(name: string, file: string, env: NodeJS.ProcessEnv, opts: NodeServiceOptions = {}): RunningService {
  const echo = opts.echo ?? true;
  const fd = opts.logFile ? fs.openSync(opts.logFile, 'a') : undefined;
  let child: ChildProcess;
  try {
    const stdio = echo ? (['ignore', 'pipe', 'pipe'] as const) : (['ignore', fd ?? 'ignore', fd ?? 'ignore'] as const);
    // The IPC channel is the child's lifeline: it closes when this process ends, however it ends,
    // and the child then stops itself (exitWithSupervisor, src/shared/supervised-child.ts).
    child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, file)], { cwd: ROOT, env, stdio: [...stdio, 'ipc'], detached: true });
  } finally {
    if (!echo && fd !== undefined) fs.closeSync(fd);
  }
  if (echo) {
    const file = fd !== undefined ? fs.createWriteStream('', { fd, autoClose: true }) : undefined;
    const prefix = (stream: NodeJS.ReadableStream | null, out: NodeJS.WriteStream) => {
      let rest = '';
      stream?.on('data', (chunk: Buffer) => {
        file?.write(chunk);
        const lines = (rest + chunk.toString()).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) out.write(`[${name}] ${line}\n`);
      });
    };
    prefix(child.stdout, process.stdout);
    prefix(child.stderr, process.stderr);
    child.once('exit', () => file?.end());
  }
  child.once('error', () => undefined); // reported as an exit
  return {
    address: name,
    process: child,
    stop: (signal: NodeJS.Signals = 'SIGTERM') =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill(signal);
      }),
  };
}
