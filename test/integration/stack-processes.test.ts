import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { portHolder } from '../../src/dev/port-holder';
import { freePort, makeRunDir } from '../../src/dev/services';
import { eventually } from '../helpers/harness';
import { serviceEnv, startService } from '../helpers/processes';

/**
 * No orphans: an API and a worker supervised like `npm start` runs them stop when their supervisor
 * is SIGKILLed (nobody then stops them in order), and free their ports. And a stack refuses to start
 * over ports that are taken, naming the port and who holds it.
 */
const ROOT = path.resolve(__dirname, '..', '..');
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** Alive and not a zombie (a killed orphan waits for PID 1 to reap it, which in a container may take long). */
function running(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer().once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

describe('a supervisor that is SIGKILLed', () => {
  it('takes its API and worker with it: both exit and free the API port and the metrics port', async () => {
    const [apiPort, metricsPort] = [await freePort(), await freePort()];
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/supervise.ts', 'src/api.ts', 'src/worker.ts'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: serviceEnv({
        PORT: String(apiPort),
        HOST: '127.0.0.1',
        WORKER_METRICS_ADDRESS: `127.0.0.1:${metricsPort}`,
        TEMPORAL_TASK_QUEUE: `orphans-${apiPort}`,
        SHUTDOWN_DELAY_MS: '200',
      }),
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    try {
      const pids = await eventually(
        'the supervisor to start its children',
        async () => {
          const line = /supervising (\{.*\})/.exec(output)?.[1];
          return line ? (JSON.parse(line) as Record<string, number>) : undefined;
        },
        60_000,
      ).catch((err: Error) => {
        throw new Error(`${err.message}\n${output}`);
      });
      const children = Object.values(pids);
      expect(children).toHaveLength(2);
      // Both hold their ports before the kill.
      await eventually(
        'the API and the worker metrics listening',
        async () => (!(await portFree(apiPort)) && !(await portFree(metricsPort)) ? true : undefined),
        60_000,
      );

      child.kill('SIGKILL');
      await eventually('children gone after their supervisor', async () => (children.every((pid) => !running(pid)) ? true : undefined), 15_000).catch(
        (err: Error) => {
          throw new Error(`${err.message}: still running ${children.filter(running).join(', ')}`);
        },
      );
      // Their ports are free again (said with the holder if not: on a shared machine another process may take a freed port).
      for (const port of [apiPort, metricsPort]) {
        await eventually(`port ${port} free`, async () => ((await portFree(port)) ? true : undefined), 5_000).catch((err: Error) => {
          throw new Error(`${err.message}: held by ${JSON.stringify(portHolder(port))} (children were ${children.join(', ')})`);
        });
      }
    } finally {
      child.kill('SIGKILL');
      const listed = /supervising (\{.*\})/.exec(output)?.[1];
      for (const pid of Object.values(listed ? (JSON.parse(listed) as Record<string, number>) : {})) if (running(pid)) process.kill(pid, 'SIGKILL');
    }
  }, 120_000);
});

describe('a stack that is SIGKILLed', () => {
  it('takes the servers it started with it (Redis, PostgreSQL, the Temporal dev server): all exit and free their ports', async () => {
    const dir = makeRunDir('sistava-servers-');
    dirs.push(dir);
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/start-servers.ts', dir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const listed = (name: string) => {
      const line = new RegExp(`^${name} (\\{.*\\})$`, 'm').exec(output)?.[1];
      return line ? (JSON.parse(line) as Record<string, number>) : undefined;
    };
    try {
      const ports = await eventually('the servers to answer', async () => listed('ports'), 90_000).catch((err: Error) => {
        throw new Error(`${err.message}\n${output}`);
      });
      const pids = Object.values(listed('servers')!);
      expect(pids).toHaveLength(3);
      expect(pids.every(running)).toBe(true);

      child.kill('SIGKILL');
      await eventually('servers gone after the process that started them', async () => (pids.every((pid) => !running(pid)) ? true : undefined), 30_000).catch(
        (err: Error) => {
          throw new Error(`${err.message}: still running ${pids.filter(running).join(', ')}`);
        },
      );
      for (const [name, port] of Object.entries(ports)) {
        await eventually(`${name}'s port ${port} free`, async () => ((await portFree(port)) ? true : undefined), 5_000).catch((err: Error) => {
          throw new Error(`${err.message}: held by ${JSON.stringify(portHolder(port))}`);
        });
      }
    } finally {
      child.kill('SIGKILL');
      for (const pid of Object.values(listed('servers') ?? {})) if (running(pid)) process.kill(pid, 'SIGKILL');
    }
  }, 150_000);
});

describe('a stack whose ports are taken', () => {
  it.each([
    ['npm start', 'src/dev/start.ts'],
    ['npm run stack:cluster', 'src/dev/cluster.ts'],
  ])(
    '(%s) refuses to start, naming the port and the process that holds it',
    async (_name, file) => {
      const holder = net.createServer();
      await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
      const port = (holder.address() as net.AddressInfo).port;
      const dataDir = makeRunDir('sistava-taken-');
      dirs.push(dataDir);
      try {
        const stack = startService(file, {
          PORT: String(port),
          DATA_DIR: dataDir,
          // Everything else on free ports, so only ours is taken whatever else runs on this machine.
          TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`,
          TEMPORAL_UI_URL: `http://localhost:${await freePort()}`,
          WORKER_METRICS_ADDRESS: `127.0.0.1:${await freePort()}`,
        });
        expect(await stack.exited).toBe(1);
        const printed = stack.output.join('');
        expect(printed).toContain(`port ${port} for `);
        expect(printed).toContain(`in use by pid ${process.pid} (`);
      } finally {
        await new Promise((resolve) => holder.close(resolve));
      }
    },
    60_000,
  );
});
