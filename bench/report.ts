import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Table from 'cli-table3';
import type { FlowReport } from './flow';
import type { LedgerReport } from './ledger';
import type { HistoryShape } from './history-shape';
import type { EndToEnd, LevelPair, Measured } from './phases';

export type HistoryShapes = { one_activity: HistoryShape; event: HistoryShape };
import { round, type PhaseResult } from './stats';

/** The targets; `pass` in the report says which were met in this run. */
export const TARGETS = {
  ingest_throughput_min: 0.9,
  ingest_p99_max: 1.5,
  end_to_end_min: 0.9,
  api_rss_mb_max: 150,
  worker_rss_mb_max: 350,
  /** The API's CPU per accepted request (worst level). */
  api_cpu_ms_max: 1.0,
  /** The worker's CPU per completed event ÷ the one-activity worker's per workflow, same run. */
  worker_cpu_ratio_max: 1.2,
  /** GET /api/billing/usage for one day on the large account, over HTTP. */
  ledger_usage_1d_p99_ms_max: 50,
  /** Large account / small account, p50 of each usage query over HTTP. */
  ledger_large_small_ratio_max: 3,
};

/** The parts of a run: `--only` picks one. */
export const PHASES = ['throughput', 'ledger', 'flow'] as const;
export type Phase = (typeof PHASES)[number];

export interface Ratios {
  /** Worst level: the smallest ingest/raw-start throughput ratio. */
  ingest_throughput: number;
  /** Worst level: the largest ingest/raw-start p99 ratio. */
  ingest_p99: number;
  end_to_end: number;
  by_concurrency: Record<
    string,
    {
      ingest_throughput: number;
      ingest_p99: number;
      /** The floor's throughput / raw start's: what the same round trips reach without our code. */
      floor_throughput: number | null;
      api_cpu_ms: number | null;
      floor_cpu_ms: number | null;
      api_over_floor_ms: number | null;
    }
  >;
  /** Worst level: the API's CPU ms per accepted request. */
  api_cpu_ms: number | null;
  /** Worst level: the API's CPU per request above the floor's (bare I/O), in ms: what our code and Koa cost. */
  api_over_floor_ms: number | null;
  /** Worker CPU per completed event ÷ the one-activity worker's CPU per workflow. */
  worker_cpu_ratio: number | null;
  /** With `--two-workers`: end-to-end throughput with two workers / with one (one API each). */
  two_workers?: number;
}

/** The throughput phases on one Temporal server: the cluster's, in a `--temporal cluster` run. */
export interface ThroughputSection {
  temporal: string;
  levels: LevelPair[];
  one_activity_ceiling: Measured;
  end_to_end: EndToEnd;
  end_to_end_two_workers?: EndToEnd;
  history?: HistoryShapes;
  ratios: Ratios;
  peak_rss_mb: BenchReport['peak_rss_mb'];
  idle_rss_mb: Record<string, number | null>;
  pass: BenchReport['pass'];
}

export interface BenchReport {
  started_at: string;
  finished_at: string;
  mode: 'quick' | 'default';
  phases: Phase[];
  machine: { cpus: number; node: string; temporal: string; postgres: string; temporal_cluster?: string };
  /** The code measured: the commit, and the service files that differed from it (a shared work tree moves). */
  git: { commit: string | null; modified: string[] };
  /** The throughput phases' settings; absent with `--only ledger` (as are the fields down to `ratios`). */
  settings?: { levels: number[]; n_per_level: number; n_completions: number; rounds: number; completion_concurrency: number; warmup: number };
  levels?: LevelPair[];
  one_activity_ceiling?: Measured;
  end_to_end?: EndToEnd;
  end_to_end_two_workers?: EndToEnd;
  /** History events and visibility writes per workflow, one-activity vs an event (a sample of each). */
  history?: HistoryShapes;
  ratios?: Ratios;
  /**
   * `--temporal cluster`: the same throughput phases on the Temporal server over PostgreSQL, after
   * the dev server's (which the fields above hold) in the same run.
   */
  cluster?: ThroughputSection;
  /** The ledger-scale phase; absent with `--only throughput`. */
  ledger?: LedgerReport;
  /** Events per second through one employee per flow mode (bench/flow.ts). */
  flow?: FlowReport;
  peak_rss_mb: { api: number | null; worker: number | null } & Record<string, number | null>;
  /** Resident MB of each child once ready, before load. */
  idle_rss_mb: Record<string, number | null>;
  targets: typeof TARGETS;
  /** Each target of the phases that ran: true when met. */
  pass: Partial<Record<'ingest_throughput' | 'ingest_p99' | 'end_to_end' | 'api_rss' | 'worker_rss' | 'api_cpu' | 'worker_cpu' | LedgerTarget, boolean>>;
  files: { dir: string };
}

/** Ratios and pass/fail from the measured phases. */
export function computeRatios(levels: LevelPair[], ceiling: Measured, e2e: Measured, e2eTwoWorkers?: PhaseResult): Ratios {
  const by = Object.fromEntries(
    levels.map((l) => {
      const api = l.ingest.cpu_ms_per_op.api;
      const floor = l.ingest_floor?.cpu_ms_per_op.api;
      return [
        String(l.concurrency),
        {
          ingest_throughput: round(l.ingest.throughput / l.raw_start.throughput, 3),
          ingest_p99: round(l.ingest.p99_ms / l.raw_start.p99_ms, 3),
          floor_throughput: l.ingest_floor ? round(l.ingest_floor.throughput / l.raw_start.throughput, 3) : null,
          api_cpu_ms: api ?? null,
          floor_cpu_ms: floor ?? null,
          api_over_floor_ms: api !== undefined && floor !== undefined ? round(api - floor, 2) : null,
        },
      ];
    }),
  );
  const values = Object.values(by);
  const worst = (xs: Array<number | null>) => (xs.some((x) => x === null) ? null : Math.max(...(xs as number[])));
  const worker = e2e.cpu_ms_per_op.worker;
  const bare = ceiling.cpu_ms_per_op.ceiling_worker;
  return {
    ingest_throughput: Math.min(...values.map((v) => v.ingest_throughput)),
    ingest_p99: Math.max(...values.map((v) => v.ingest_p99)),
    end_to_end: round(e2e.throughput / ceiling.throughput, 3),
    api_cpu_ms: worst(values.map((v) => v.api_cpu_ms)),
    api_over_floor_ms: worst(values.map((v) => v.api_over_floor_ms)),
    worker_cpu_ratio: worker !== undefined && bare ? round(worker / bare, 2) : null,
    by_concurrency: by,
    ...(e2eTwoWorkers ? { two_workers: round(e2eTwoWorkers.throughput / e2e.throughput, 3) } : {}),
  };
}

type LedgerTarget = 'ledger_usage_1d_p99' | 'ledger_ratio_usage_1d' | 'ledger_ratio_report_30d';

/** The HTTP latency pair of a ledger query. */
export function ledgerHttp(ledger: LedgerReport, query: LedgerReport['latency'][number]['query']): LedgerReport['latency'][number] {
  return ledger.latency.find((l) => l.query === query && l.via === 'http')!;
}

export function judge(ratios: BenchReport['ratios'], rss: BenchReport['peak_rss_mb'], ledger?: LedgerReport): BenchReport['pass'] {
  const pass: BenchReport['pass'] = {};
  if (ratios) {
    Object.assign(pass, {
      ingest_throughput: ratios.ingest_throughput >= TARGETS.ingest_throughput_min,
      ingest_p99: ratios.ingest_p99 <= TARGETS.ingest_p99_max,
      end_to_end: ratios.end_to_end >= TARGETS.end_to_end_min,
      worker_rss: rss.worker !== null && rss.worker <= TARGETS.worker_rss_mb_max,
      api_cpu: ratios.api_cpu_ms !== null && ratios.api_cpu_ms <= TARGETS.api_cpu_ms_max,
      worker_cpu: ratios.worker_cpu_ratio !== null && ratios.worker_cpu_ratio <= TARGETS.worker_cpu_ratio_max,
    });
  }
  pass.api_rss = rss.api !== null && rss.api <= TARGETS.api_rss_mb_max;
  if (ledger) {
    const day = ledgerHttp(ledger, 'usage_1d');
    const month = ledgerHttp(ledger, 'report_30d_by_employee');
    pass.ledger_usage_1d_p99 = day.large.p99_ms < TARGETS.ledger_usage_1d_p99_ms_max;
    pass.ledger_ratio_usage_1d = day.ratio_p50 < TARGETS.ledger_large_small_ratio_max;
    pass.ledger_ratio_report_30d = month.ratio_p50 < TARGETS.ledger_large_small_ratio_max;
  }
  return pass;
}

/** CPU columns: process name in the report → short table heading. */
const CPU_COLUMNS: Array<[string, string]> = [
  ['runner', 'bench'],
  ['api', 'api'],
  ['worker', 'worker'],
  ['ceiling_worker', 'ceil.wkr'],
  ['temporal', 'temporal'],
  ['postgres', 'postgres'],
  // Part of `postgres`: the backends on Temporal's databases (a server on PostgreSQL only).
  ['pg_temporal', 'pg:tmprl'],
  ['redis', 'redis'],
  ['others_pct', 'others'],
  ['machine_busy_pct', 'all'],
];
const pct = (v: number | undefined) => (v === undefined ? '-' : `${Math.round(v)}`);
const ms = (v: number | undefined) => (v === undefined ? '-' : v.toFixed(2));
const num = (v: number) => (Number.isFinite(v) ? String(v) : '-');

/** The report as plain-text tables for a terminal; colour only when stdout is one. */
export function renderTables(r: BenchReport, colour = Boolean(process.stdout.isTTY)): string {
  const style = colour ? {} : { head: [], border: [] };
  const verdict = (ok: boolean | undefined) => (ok === undefined ? '' : ok ? 'met' : 'MISSED');
  const out: string[] = [];
  const ratios = new Table({ head: ['ratio', 'value', 'target', ''], style });
  if (r.levels && r.one_activity_ceiling && r.end_to_end && r.ratios) {
    const dev: ThroughputSection = {
      temporal: r.machine.temporal,
      levels: r.levels,
      one_activity_ceiling: r.one_activity_ceiling,
      end_to_end: r.end_to_end,
      end_to_end_two_workers: r.end_to_end_two_workers,
      history: r.history,
      ratios: r.ratios,
      peak_rss_mb: r.peak_rss_mb,
      idle_rss_mb: r.idle_rss_mb,
      pass: r.pass,
    };
    const cores = `${r.mode} run, ${r.machine.cpus} cores. CPU columns: % of one core over the phase (bench = this process: client and load generator; postgres = server and backends; others = processes outside this run; all = whole machine, max ${100 * r.machine.cpus}).`;
    if (r.cluster) {
      out.push(
        cores,
        `Temporal dev server (${dev.temporal}):`,
        ...phaseTables(dev, style),
        `Temporal server on PostgreSQL (${r.cluster.temporal}); pg:tmprl = the part of postgres spent by the backends on Temporal's databases:`,
        ...phaseTables(r.cluster, style),
        `Dev server vs Temporal server on PostgreSQL, same run (the dev server's phases first, then the cluster's):`,
        comparisonTable(dev, r.cluster, style),
      );
    } else out.push(cores, ...phaseTables(dev, style));
    for (const [c, v] of Object.entries(r.ratios.by_concurrency)) {
      ratios.push(
        [`ingest/raw throughput @${c} (floor/raw)`, `${v.ingest_throughput} (${v.floor_throughput ?? '-'})`, '', ''],
        [`ingest/raw p99 @${c}`, v.ingest_p99, '', ''],
        [`API CPU ms/request @${c} (floor, above it)`, `${v.api_cpu_ms ?? '-'} (${v.floor_cpu_ms ?? '-'}, +${v.api_over_floor_ms ?? '-'})`, '', ''],
      );
    }
    ratios.push(
      ['ingest/raw throughput (worst)', r.ratios.ingest_throughput, `≥ ${TARGETS.ingest_throughput_min}`, verdict(r.pass.ingest_throughput)],
      ['ingest/raw p99 (worst)', r.ratios.ingest_p99, `≤ ${TARGETS.ingest_p99_max}`, verdict(r.pass.ingest_p99)],
      ['end-to-end/one-activity', r.ratios.end_to_end, `≥ ${TARGETS.end_to_end_min}`, verdict(r.pass.end_to_end)],
      ['API CPU ms/request (worst level)', r.ratios.api_cpu_ms ?? '-', `≤ ${TARGETS.api_cpu_ms_max}`, verdict(r.pass.api_cpu)],
      ['  above the floor (bare I/O), ms', r.ratios.api_over_floor_ms ?? '-', '', ''],
      ['worker CPU/event ÷ one-activity worker', r.ratios.worker_cpu_ratio ?? '-', `≤ ${TARGETS.worker_cpu_ratio_max}`, verdict(r.pass.worker_cpu)],
      ...(r.ratios.two_workers !== undefined ? [['end-to-end, two workers/one', r.ratios.two_workers, '', '']] : []),
      ['API peak RSS MB', r.peak_rss_mb.api ?? '-', `≤ ${TARGETS.api_rss_mb_max}`, verdict(r.pass.api_rss)],
      ['worker peak RSS MB', r.peak_rss_mb.worker ?? '-', `≤ ${TARGETS.worker_rss_mb_max}`, verdict(r.pass.worker_rss)],
    );
  }
  if (r.flow) {
    const f = r.flow;
    const table = new Table({ head: ['flow mode (one employee)', 'events', 'events/s', 'p50 ms', 'p99 ms', 'errors'], style });
    for (const mode of ['parallel', 'ordered', 'batch'] as const) {
      const m = f[mode];
      if (m) table.push([mode, m.n, m.throughput, m.p50_ms, m.p99_ms, m.errors]);
    }
    out.push(
      `Flow modes: ${f.n} events per mode through one employee, sent at concurrency ${f.concurrency}, POST to charge (inbox runtime):`,
      table.toString(),
    );
  }
  if (r.ledger) {
    const l = r.ledger;
    const a = l.accounts;
    out.push(
      `Ledger scale: ${a.large.postings.toLocaleString('en')} postings (large) vs ${a.small.postings.toLocaleString('en')} (small), both over ${l.settings.days} days, ` +
        `${l.settings.employees} employees × ${l.settings.event_labels} event labels; rollup rows ${a.large.usage_hourly_rows} vs ${a.small.usage_hourly_rows}. ` +
        `${l.settings.calls} sequential calls per row after ${l.settings.warmup} warm-up. CPU over the calls: postgres ${pct(l.cpu.postgres)} %, api ${pct(l.cpu.api)} %, bench ${pct(l.cpu.runner)} %, others ${pct(l.cpu.others_pct)} %.`,
    );
    const lat = new Table({
      head: ['query', 'via', 'account', 'mean ms', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'large/small p50', 'large/small p99'],
      style,
    });
    for (const pair of l.latency) {
      const name = pair.query === 'usage_1d' ? 'usage, 1 day (default group_by)' : 'report, 30 days by employee';
      const via = pair.via === 'http' ? 'HTTP (API)' : 'UsageStore';
      for (const account of ['large', 'small'] as const) {
        const s = pair[account];
        lat.push([
          name,
          via,
          account,
          s.mean_ms,
          s.p50_ms,
          s.p95_ms,
          s.p99_ms,
          s.max_ms,
          account === 'large' ? pair.ratio_p50 : '',
          account === 'large' ? pair.ratio_p99 : '',
        ]);
      }
    }
    const audit = new Table({ head: ['credits verify (ledger audit)', 'postings', 'runs ms', 'median ms', 'result'], style });
    for (const account of ['large', 'small'] as const) {
      const t = l.audit[account];
      audit.push([account, t.postings, t.runs_ms.join(' / '), t.median_ms, t.ok ? 'OK' : `MISMATCH: ${t.problems.join('; ')}`]);
    }
    out.push(lat.toString(), audit.toString());
    if (l.audit.large.median_ms > l.audit.cli_statement_timeout_ms) {
      out.push(
        `Note: the audit takes longer than the CLI's ${l.audit.cli_statement_timeout_ms} ms statement timeout: \`credits verify\` would be cancelled on the large account.`,
      );
    }
    const day = ledgerHttp(l, 'usage_1d');
    const month = ledgerHttp(l, 'report_30d_by_employee');
    ratios.push(
      ['usage 1 day, large account, HTTP p99 ms', day.large.p99_ms, `< ${TARGETS.ledger_usage_1d_p99_ms_max}`, verdict(r.pass.ledger_usage_1d_p99)],
      ['usage 1 day, large/small p50 (HTTP)', day.ratio_p50, `< ${TARGETS.ledger_large_small_ratio_max}`, verdict(r.pass.ledger_ratio_usage_1d)],
      ['report 30 days, large/small p50 (HTTP)', month.ratio_p50, `< ${TARGETS.ledger_large_small_ratio_max}`, verdict(r.pass.ledger_ratio_report_30d)],
    );
    if (!r.levels) ratios.push(['API peak RSS MB', r.peak_rss_mb.api ?? '-', `≤ ${TARGETS.api_rss_mb_max}`, verdict(r.pass.api_rss)]);
  }
  const list = (o: Record<string, number | null>) =>
    Object.entries(o)
      .map(([k, v]) => `${k} ${v ?? '-'}`)
      .join(', ');
  out.push(
    ...(r.cluster ? ["Targets, judged on the dev server (the cluster's verdicts are in the JSON, `cluster.pass`):"] : []),
    // A flow-only run judges no target: no empty table.
    ...(ratios.length > 0 ? [ratios.toString()] : []),
    ...(r.levels ? ['(machine: all CPU used on the machine per operation, other work included)'] : []),
    `Peak RSS (VmHWM, MB): ${list(r.peak_rss_mb)}`,
    `Idle RSS once ready (MB): ${list(r.idle_rss_mb)}`,
  );
  return out.join('\n');
}

type TableStyle = { head?: string[]; border?: string[] };

/** One server's phase table (throughput, latency, CPU shares) and its CPU-cost table. */
function phaseTables(section: ThroughputSection, style: TableStyle): string[] {
  const rows: Array<[string, Measured]> = [];
  for (const level of section.levels) {
    rows.push(['raw start', level.raw_start], ['  (raw, ingest-shaped)', level.raw_start_ingest_shaped], ['ingest (HTTP)', level.ingest]);
    // Runs of an older report have no floor.
    if (level.ingest_floor) rows.push(['  (floor: bare I/O)', level.ingest_floor]);
  }
  rows.push(['one-activity ceiling', section.one_activity_ceiling], ['end-to-end POST→charged', section.end_to_end]);
  if (section.end_to_end_two_workers) rows.push(['end-to-end, two workers', section.end_to_end_two_workers]);
  // A column only some servers have (pg:tmprl) shows where it was measured.
  const columns = CPU_COLUMNS.filter(([key]) => key !== 'pg_temporal' || rows.some(([, p]) => p.cpu[key] !== undefined));
  const phases = new Table({ head: ['phase', 'conc', 'n', 'ok', 'ops/s', 'p50 ms', 'p99 ms', 'secs', ...columns.map(([, heading]) => heading)], style });
  const costColumns = columns.filter(([key]) => key !== 'others_pct');
  const costHeads = costColumns.map(([key, heading]) => (key === 'machine_busy_pct' ? 'machine' : heading));
  const costs = new Table({ head: ['CPU ms per operation', 'conc', ...costHeads], style });
  for (const [name, p] of rows) {
    phases.push([
      name,
      p.concurrency,
      p.n,
      p.ok,
      num(p.throughput),
      num(p.p50_ms),
      num(p.p99_ms),
      num(p.duration_s),
      ...columns.map(([key]) => pct(p.cpu[key])),
    ]);
    costs.push([name, p.concurrency, ...costColumns.map(([key]) => ms(p.cpu_ms_per_op[key]))]);
  }
  const tables = [phases.toString(), costs.toString()];
  if (section.history) {
    const h = section.history;
    const shape = new Table({
      head: ['history per workflow', 'sampled', 'events', 'workflow tasks', 'activity tasks', 'local activities', 'visibility writes'],
      style,
    });
    for (const [name, x] of [
      ['one-activity workflow', h.one_activity],
      ['event (inbox runtime)', h.event],
    ] as const) {
      shape.push([
        name,
        x.sampled,
        x.events_per_workflow,
        x.workflow_tasks_per_workflow,
        x.activity_tasks_per_workflow,
        x.local_activities_per_workflow,
        x.visibility_writes_per_workflow,
      ]);
    }
    tables.push(shape.toString());
  }
  if (rows.some(([, p]) => p.pg_sessions)) {
    const top = (by: Record<string, number>) =>
      Object.entries(by)
        .slice(0, 3)
        .map(([k, v]) => `${k} ${Math.round(v * 100)}%`)
        .join(', ');
    const sessions = new Table({
      head: ['PostgreSQL sessions (every 100 ms)', 'conc', 'ours busy', 'ours: doing', "Temporal's busy", "Temporal's: doing"],
      style,
    });
    for (const [name, p] of rows) {
      const s = p.pg_sessions;
      sessions.push(
        s
          ? [name, p.concurrency, s.ours.busy_avg, top(s.ours.by_activity), s.temporal.busy_avg, top(s.temporal.by_activity)]
          : [name, p.concurrency, '-', '', '-', ''],
      );
    }
    tables.push(sessions.toString());
  }
  return tables;
}

/** The two servers side by side: throughput, the ratios, memory. */
function comparisonTable(dev: ThroughputSection, cluster: ThroughputSection, style: TableStyle): string {
  const table = new Table({ head: ['', 'dev server', 'cluster', 'cluster/dev'], style });
  const ratio = (a: number | null | undefined, b: number | null | undefined) =>
    a === null || a === undefined || b === null || b === undefined || a === 0 ? '-' : round(b / a, 2);
  const pair = (name: string, a: number | null | undefined, b: number | null | undefined) => table.push([name, a ?? '-', b ?? '-', ratio(a, b)]);
  for (const [i, level] of dev.levels.entries()) {
    const other = cluster.levels[i];
    const c = level.concurrency;
    pair(`raw start/s @${c}`, level.raw_start.throughput, other.raw_start.throughput);
    pair(`ingest req/s @${c}`, level.ingest.throughput, other.ingest.throughput);
    pair(`raw start p99 ms @${c}`, level.raw_start.p99_ms, other.raw_start.p99_ms);
    pair(`ingest p99 ms @${c}`, level.ingest.p99_ms, other.ingest.p99_ms);
    pair(`ingest/raw throughput @${c}`, dev.ratios.by_concurrency[c].ingest_throughput, cluster.ratios.by_concurrency[c].ingest_throughput);
    pair(`ingest/raw p99 @${c}`, dev.ratios.by_concurrency[c].ingest_p99, cluster.ratios.by_concurrency[c].ingest_p99);
  }
  pair('one-activity ceiling/s', dev.one_activity_ceiling.throughput, cluster.one_activity_ceiling.throughput);
  pair('end-to-end events/s (1 API, 1 worker)', dev.end_to_end.throughput, cluster.end_to_end.throughput);
  pair('end-to-end/one-activity', dev.ratios.end_to_end, cluster.ratios.end_to_end);
  if (dev.end_to_end_two_workers && cluster.end_to_end_two_workers) {
    pair('end-to-end events/s (1 API, 2 workers)', dev.end_to_end_two_workers.throughput, cluster.end_to_end_two_workers.throughput);
    pair('end-to-end, two workers/one', dev.ratios.two_workers, cluster.ratios.two_workers);
  }
  pair('end-to-end p50 ms (1 worker)', dev.end_to_end.p50_ms, cluster.end_to_end.p50_ms);
  pair('API peak RSS MB', dev.peak_rss_mb.api, cluster.peak_rss_mb.api);
  pair('worker peak RSS MB', dev.peak_rss_mb.worker, cluster.peak_rss_mb.worker);
  pair('Temporal server peak RSS MB', dev.peak_rss_mb.temporal, cluster.peak_rss_mb.temporal);
  return table.toString();
}

/** The usage statement's plans (auto_explain), for --explain or a missed ledger target. */
export function renderPlans(ledger: LedgerReport): string {
  return Object.entries(ledger.plans)
    .map(([query, plan]) => `--- ${query}, large account:\n${plan}`)
    .join('\n');
}

/** HEAD and the modified or new files under the service's folders, so a result names the code it measured. */
export function gitState(root = path.resolve(__dirname, '..')): BenchReport['git'] {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trimEnd();
  try {
    const modified = git('status', '--porcelain', '--', 'src', 'workflows', 'activities', 'package.json')
      .split('\n')
      .filter(Boolean)
      .map((line) => line.slice(3));
    return { commit: git('rev-parse', 'HEAD'), modified };
  } catch {
    return { commit: null, modified: [] };
  }
}

/** Writes bench/results/latest.json and a timestamped copy; returns both paths. */
export function writeResults(report: BenchReport, dir = path.join(__dirname, 'results')): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const stamp = report.started_at.replace(/[:.]/g, '-');
  const text = `${JSON.stringify(report, null, 2)}\n`;
  const files = [path.join(dir, 'latest.json'), path.join(dir, `${stamp}.json`)];
  for (const file of files) fs.writeFileSync(file, text);
  return files;
}
