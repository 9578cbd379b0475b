import { spawn } from 'node:child_process';
import { stopper, type RunningService } from '../../src/dev/services';
import { Supervisor } from '../../src/dev/supervisor';
import { eventually } from '../helpers/harness';

/** A Node process that exits with code 3 after `ms` (or runs until killed). */
function nodeChild(ms?: number): RunningService {
  const script = ms === undefined ? 'setInterval(() => {}, 1000)' : `setTimeout(() => process.exit(3), ${ms})`;
  const child = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
  return { address: 'test', process: child, stop: stopper(child) };
}

const supervisors: Supervisor[] = [];
function supervisor(lines: string[], opts: { resetAfterMs?: number } = {}) {
  const s = new Supervisor({ log: (l) => lines.push(l), initialBackoffMs: 100, maxBackoffMs: 400, resetAfterMs: opts.resetAfterMs ?? 60_000 });
  supervisors.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(supervisors.splice(0).map((s) => s.stopAll()));
});

describe('Supervisor', () => {
  it('restarts a crashing child with a backoff that doubles up to the maximum, and says so', async () => {
    const lines: string[] = [];
    const child = await supervisor(lines).add({ name: 'crasher', start: async () => nodeChild(20) });
    await eventually('five restarts', async () => (child.restarts >= 5 ? true : undefined), 20_000);
    const exits = lines.filter((l) => l.includes('exited'));
    expect(exits.slice(0, 5)).toEqual([
      'crasher exited (code 3); restarting in 0.1 s',
      'crasher exited (code 3); restarting in 0.2 s',
      'crasher exited (code 3); restarting in 0.4 s',
      'crasher exited (code 3); restarting in 0.4 s',
      'crasher exited (code 3); restarting in 0.4 s',
    ]);
    expect(lines).toContain(`crasher restarted (pid ${child.pids[1]}, restart 1)`);
    expect(new Set(child.pids).size).toBe(child.pids.length);
  });

  it('starts again at the initial backoff once a child stayed up past resetAfterMs', async () => {
    const lines: string[] = [];
    let runs = 0;
    // Crashes fast twice (backoff grows to 0.4 s), then stays up 600 ms (> resetAfterMs) before crashing.
    const child = await supervisor(lines, { resetAfterMs: 500 }).add({ name: 'flaky', start: async () => nodeChild(++runs <= 2 ? 20 : 600) });
    await eventually('three exits', async () => (lines.filter((l) => l.includes('exited')).length >= 3 ? true : undefined), 20_000);
    expect(lines.filter((l) => l.includes('exited')).slice(0, 3)).toEqual([
      'flaky exited (code 3); restarting in 0.1 s',
      'flaky exited (code 3); restarting in 0.2 s',
      'flaky exited (code 3); restarting in 0.1 s',
    ]);
    expect(child.restarts).toBeGreaterThanOrEqual(2);
  });

  it('restarts a child killed from outside (SIGKILL), and not one that was asked to stop', async () => {
    const lines: string[] = [];
    const s = supervisor(lines);
    const child = await s.add({ name: 'worker-1', start: async () => nodeChild() });
    const first = child.current!.process!.pid!;
    process.kill(first, 'SIGKILL');
    await eventually('restarted', async () => (child.restarts === 1 && child.current ? true : undefined), 10_000);
    expect(lines[0]).toBe('worker-1 exited (signal SIGKILL); restarting in 0.1 s');
    expect(child.current!.process!.pid).not.toBe(first);

    const second = child.current!.process!;
    await child.stop();
    expect(second.exitCode !== null || second.signalCode !== null).toBe(true);
    await new Promise((r) => setTimeout(r, 300)); // longer than the backoff: a restart would have happened
    expect(child.restarts).toBe(1);
    expect(child.current).toBeUndefined();
    expect(s.state()).toEqual([{ name: 'worker-1', pid: undefined, pids: [first, second.pid], restarts: 1, running: false }]);
  });

  it('restart() replaces the process at once without counting it as a crash', async () => {
    const lines: string[] = [];
    const child = await supervisor(lines).add({ name: 'api', start: async () => nodeChild() });
    const first = child.current!.process!.pid;
    await child.restart();
    expect(child.current!.process!.pid).not.toBe(first);
    expect(child.restarts).toBe(0);
    expect(lines).toEqual([]);
  });

  it('retries a start that fails, with backoff', async () => {
    const lines: string[] = [];
    let attempts = 0;
    const child = await supervisor(lines).add({
      name: 'temporal',
      start: async () => {
        attempts += 1;
        if (attempts === 2) throw new Error('exited with 1 before it was ready');
        return nodeChild(attempts === 1 ? 20 : undefined);
      },
    });
    await eventually('running again', async () => (child.restarts === 1 && child.current ? true : undefined), 10_000);
    expect(lines.slice(0, 3)).toEqual([
      'temporal exited (code 3); restarting in 0.1 s',
      'temporal could not start: exited with 1 before it was ready; retrying in 0.2 s',
      `temporal restarted (pid ${child.current!.process!.pid}, restart 1)`,
    ]);
  });
});
