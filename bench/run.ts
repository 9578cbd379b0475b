import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { connectRedis } from '../src/redis';
import { completionPhases, startPhases, type BenchContext, type CompletionResults } from './phases';
import { peakRssMb } from './proc';
import { computeRatios, gitState, judge, renderTables, TARGETS, writeResults, type BenchReport } from './report';
import { seedAccount } from './setup';
import { Stack, type BenchChild } from './stack';
import { summarizeProfile } from './cpu-profile';

/**
 * `npm run bench [-- --quick] [-- --json-only]`: raw start ceiling vs HTTP ingest, one-activity
 * ceiling vs end-to-end, all on one Temporal dev server in one run (see bench/README.md).
 */
const LEVELS = [1, 16, 64];
const COMPLETION_CONCURRENCY = 16;

function options() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      'json-only': { type: 'boolean', default: false },
      n: { type: 'string' },
      'temporal-address': { type: 'string' },
      'redis-url': { type: 'string' },
      'keep-dir': { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
    },
  });
  const n = values.n ? Number(values.n) : values.quick ? 200 : 2000;
  if (!Number.isInteger(n) || n < 1 || n > 100_000) throw new Error(`--n must be an integer in 1..100000, got ${values.n}`);
  // Profiles live in the run's folder, so profiling keeps it.
  return { ...values, 'keep-dir': values['keep-dir'] || values.profile, n, rounds: values.quick ? 2 : 4, warmup: values.quick ? 50 : 200 };
}

async function main(): Promise<void> {
  const opts = options();
  const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
  const startedAt = new Date();
  // Read before the children load the code: other work may change the tree while the run goes on.
  const git = gitState();
  const runId = `${startedAt.toISOString().replace(/\D/g, '').slice(0, 14)}-${process.pid}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sistava-bench-'));
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

  try {
    log(`run ${runId} (${opts.quick ? 'quick' : 'default'}): n=${opts.n} per phase, files in ${dir}`);
    // The API and worker run as built JavaScript, as in production (the Dockerfile): tsx's loader
    // would add about 50 MB to each process's RSS.
    log('building src/ with `npm run build` …');
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: path.resolve(__dirname, '..'), stdio: 'inherit' });
    const [redisService, temporalService, app, ceiling] = await Promise.all([
      opts['redis-url'] ? undefined : stack.startRedis(),
      opts['temporal-address'] ? undefined : stack.startTemporal(),
      stack.bundle('app', require.resolve('../workflows')),
      stack.bundle('ceiling', require.resolve('./ceiling-workflows')),
    ]);
    const redisUrl = opts['redis-url'] ?? redisService!.address;
    const temporalAddress = opts['temporal-address'] ?? temporalService!.address;
    log(`Redis ${redisUrl}, Temporal ${temporalAddress}`);
    const redis = await connectRedis(redisUrl);
    const connection = await Connection.connect({ address: temporalAddress });
    const ctx: BenchContext = {
      stack,
      client: new Client({ connection }),
      redis,
      account: await seedAccount(redis, runId),
      runId,
      n: opts.n,
      rounds: opts.rounds,
      warmup: opts.warmup,
      levels: LEVELS,
      completionConcurrency: COMPLETION_CONCURRENCY,
      serviceEnv: { REDIS_URL: redisUrl, TEMPORAL_ADDRESS: temporalAddress, LOG_LEVEL: 'warn', LOG_PRETTY: 'false', OPENAI_BASE_URL: '' },
      temporalAddress,
      bundles: { app, ceiling },
      pids: { runner: process.pid, temporal: temporalService?.process?.pid, redis: redisService?.process?.pid },
      idleRssMb: {},
      log,
    };

    const starts = await startPhases(ctx);
    const completions = await completionPhases(ctx);
    const peak_rss_mb = peakRss(ctx, starts.api, completions.children);
    await connection.close();
    redis.disconnect();

    const ratios = computeRatios(starts.levels, completions.ceiling, completions.endToEnd);
    const report: BenchReport = {
      started_at: startedAt.toISOString(),
      finished_at: new Date().toISOString(),
      mode: opts.quick ? 'quick' : 'default',
      machine: { cpus: os.cpus().length, node: process.version, temporal: temporalService ? 'dev server started by the bench (SQLite file, WAL)' : temporalAddress },
      git,
      settings: { levels: LEVELS, n_per_level: opts.n, n_completions: opts.n, rounds: opts.rounds, completion_concurrency: COMPLETION_CONCURRENCY, warmup: opts.warmup },
      levels: starts.levels,
      one_activity_ceiling: completions.ceiling,
      end_to_end: completions.endToEnd,
      ratios,
      peak_rss_mb,
      idle_rss_mb: Object.fromEntries(Object.entries(ctx.idleRssMb).map(([k, v]) => [k, v ?? null])),
      targets: TARGETS,
      pass: judge(ratios, peak_rss_mb),
      files: { dir: opts['keep-dir'] ? dir : '(removed; --keep-dir keeps it)' },
    };
    const written = writeResults(report);
    if (opts['json-only']) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    else process.stdout.write(`${renderTables(report)}\nResults: ${written.join(', ')}\n`);
  } finally {
    await stack.stopAll();
    if (opts.profile) printProfiles(stack.profileDir, log);
    if (!opts['keep-dir']) fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** VmHWM of every process of the run; `api` is the larger of the two API children. */
function peakRss(ctx: BenchContext, apiIngest: BenchChild, children: CompletionResults['children']): BenchReport['peak_rss_mb'] {
  const of = (pid?: number) => (pid ? peakRssMb(pid) ?? null : null);
  const apiPeaks = [apiIngest.peakRssMb(), children.api.peakRssMb()].filter((v): v is number => v !== undefined);
  return {
    api: apiPeaks.length ? Math.max(...apiPeaks) : null,
    worker: children.worker.peakRssMb() ?? null,
    api_ingest_phase: apiIngest.peakRssMb() ?? null,
    api_e2e_phase: children.api.peakRssMb() ?? null,
    ceiling_worker: children.ceilingWorker.peakRssMb() ?? null,
    runner: of(process.pid),
    temporal: of(ctx.pids.temporal),
    redis: of(ctx.pids.redis),
  };
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
