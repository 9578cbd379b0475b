import { Supervisor, spawnNodeService } from '../../src/dev/supervisor';

/**
 * A supervisor in a process of its own, as `npm start` runs one: it supervises the entry points
 * named on its command line (`src/api.ts src/worker.ts`) with its own environment, and prints
 * `supervising {"api.ts": pid, …}` once each has started. Tests SIGKILL it to see its children go.
 */
async function main(): Promise<void> {
  const supervisor = new Supervisor({ log: (line) => process.stdout.write(`[supervisor] ${line}\n`) });
  const pids: Record<string, number> = {};
  for (const file of process.argv.slice(2)) {
    const child = await supervisor.add({ name: file, start: async () => spawnNodeService(file, file, process.env, { echo: false }) });
    pids[file] = child.current!.process!.pid!;
  }
  process.stdout.write(`supervising ${JSON.stringify(pids)}\n`);
}

void main();
