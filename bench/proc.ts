import fs from 'node:fs';
import os from 'node:os';

/** Linux reports process CPU time in clock ticks; 100 per second on every kernel this runs on. */
const TICKS_PER_SECOND = 100;

/** Peak resident set (VmHWM) of a live process in MB, undefined once it is gone. */
export function peakRssMb(pid: number): number | undefined {
  return statusField(pid, 'VmHWM');
}

/** Current resident set (VmRSS) in MB. */
export function rssMb(pid: number): number | undefined {
  return statusField(pid, 'VmRSS');
}

function statusField(pid: number, field: string): number | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return kb ? Math.round((Number(kb[1]) / 1024) * 10) / 10 : undefined;
  } catch {
    return undefined;
  }
}

/** The fields of /proc/<pid>/stat after the command name (state is [0], ppid [1], utime [11]). */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces; the fields after its closing parenthesis are fixed.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Servers whose work runs in child processes (PostgreSQL: one backend per connection). */
const withChildren = new Set<number>();

/**
 * From now on `cpuSeconds(pid)` counts the process's children too: the live ones, and those that
 * exited and were waited for (cutime + cstime). For PostgreSQL, whose backends do the work.
 */
export function countChildrenOf(pid: number): void {
  withChildren.add(pid);
}

/** Pids of the live children of `parent`. */
function childrenOf(parent: number): number[] {
  const children: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const fields = statFields(Number(name));
    if (fields && Number(fields[1]) === parent) children.push(Number(name));
  }
  return children;
}

/** User + system CPU seconds a process has used so far (with its children's, see countChildrenOf). */
export function cpuSeconds(pid: number): number | undefined {
  const fields = statFields(pid);
  if (!fields) return undefined;
  const own = (f: string[]) => Number(f[11]) + Number(f[12]);
  const waited = (f: string[]) => Number(f[13]) + Number(f[14]);
  let ticks = own(fields);
  if (withChildren.has(pid)) {
    ticks += waited(fields);
    for (const child of childrenOf(pid)) {
      const f = statFields(child);
      if (f) ticks += own(f) + waited(f);
    }
  }
  return ticks / TICKS_PER_SECOND;
}

/** Busy and total CPU seconds of the whole machine (all cores), from /proc/stat. */
function machineSeconds(): { busy: number; total: number } {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const ticks = line.trim().split(/\s+/).slice(1).map(Number);
  const total = ticks.reduce((a, b) => a + b, 0);
  const idle = ticks[3] + (ticks[4] ?? 0);
  return { busy: (total - idle) / TICKS_PER_SECOND, total: total / TICKS_PER_SECOND };
}

/**
 * The PostgreSQL backends (children of the postmaster `pid`) connected to one of `databases`: a
 * backend's command line reads `postgres: <user> <database> <host(port)> <state>`.
 */
export function backendsOf(pid: number, databases: readonly string[]): number[] {
  return childrenOf(pid).filter((child) => {
    try {
      const title = fs.readFileSync(`/proc/${child}/cmdline`, 'utf8').replace(/\0/g, ' ').trim().split(/\s+/);
      return title[0] === 'postgres:' && databases.includes(title[2]);
    } catch {
      return false;
    }
  });
}

/**
 * What a CPU column measures: one process (with its children, see countChildrenOf), several (their
 * sum: two workers serving one phase), or a set found anew at each reading (PostgreSQL backends of
 * some databases: those that exited during the window are missed, new ones count from zero).
 */
export type PidSpec = number | number[] | (() => number[]) | undefined;

/** CPU seconds so far of each process a spec names, by pid. */
function cpuByPid(spec: PidSpec): Map<number, number> | undefined {
  if (spec === undefined) return undefined;
  const pids = typeof spec === 'number' ? [spec] : typeof spec === 'function' ? spec() : spec;
  const by = new Map<number, number>();
  for (const pid of pids) {
    const seconds = cpuSeconds(pid);
    if (seconds !== undefined) by.set(pid, seconds);
  }
  // A single process that is gone has no reading; a group may be empty for a while.
  return typeof spec === 'number' && by.size === 0 ? undefined : by;
}

/**
 * CPU use over one phase in percent of one core; `machine_busy_pct` tops out at 100 × cores, and
 * `others_pct` is what processes outside this run used (other work on a shared machine). Specs
 * whose name starts with `part:` are a part of another column (Temporal's backends of `postgres`):
 * they are reported without the prefix and not added again into `others_pct`.
 */
export type CpuShare = Record<string, number | undefined> & { machine_busy_pct: number; others_pct: number; wall_s: number };

/**
 * Snapshots CPU time of named processes at the start of a phase; `stop()` returns each one's
 * share of one core over the phase, plus how busy the whole machine was.
 */
export function startCpuWindow(pids: Record<string, PidSpec>): { stop: () => CpuShare } {
  const started = process.hrtime.bigint();
  const before = Object.fromEntries(Object.entries(pids).map(([name, spec]) => [name, cpuByPid(spec)]));
  const machineBefore = machineSeconds();
  return {
    stop: () => {
      const wall = Number(process.hrtime.bigint() - started) / 1e9;
      const machine = machineSeconds();
      const machineBusy = (100 * os.cpus().length * (machine.busy - machineBefore.busy)) / Math.max(machine.total - machineBefore.total, 1e-9);
      const share: CpuShare = { machine_busy_pct: round1(machineBusy), others_pct: 0, wall_s: Math.round(wall * 1000) / 1000 };
      let ours = 0;
      for (const [name, spec] of Object.entries(pids)) {
        const after = cpuByPid(spec);
        const then = before[name];
        let used: number | undefined;
        if (after !== undefined && then !== undefined) {
          used = 0;
          for (const [pid, seconds] of after) used += seconds - (then.get(pid) ?? 0);
        }
        const part = name.startsWith('part:');
        const key = part ? name.slice('part:'.length) : name;
        share[key] = used === undefined ? undefined : round1((100 * used) / wall);
        if (!part) ours += share[key] ?? 0;
      }
      share.others_pct = round1(Math.max(0, machineBusy - ours));
      return share;
    },
  };
}

/** Rounds of one phase as one window: each share weighted by its round's wall time. */
export function mergeCpu(shares: CpuShare[]): CpuShare {
  const wall = shares.reduce((a, s) => a + s.wall_s, 0);
  const merged: Record<string, number | undefined> = { wall_s: Math.round(wall * 1000) / 1000 };
  for (const name of new Set(shares.flatMap((s) => Object.keys(s)))) {
    if (name === 'wall_s') continue;
    const values = shares.map((s) => s[name]);
    merged[name] = values.some((v) => v === undefined) ? undefined : round1(shares.reduce((a, s) => a + (s[name] ?? 0) * s.wall_s, 0) / wall);
  }
  return merged as CpuShare;
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

/** CPU milliseconds each process spent per successful operation over a window. */
export function cpuMsPerOp(share: CpuShare, ops: number): Record<string, number | undefined> {
  const perOp: Record<string, number | undefined> = {};
  for (const [name, pct] of Object.entries(share)) {
    if (name === 'wall_s' || name === 'others_pct') continue;
    perOp[name] = pct === undefined || ops === 0 ? undefined : Math.round(((pct / 100) * share.wall_s * 1000 * 100) / ops) / 100;
  }
  return perOp;
}
