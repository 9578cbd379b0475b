import type { Client } from '@temporalio/client';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import { ChargeWatcher, completionDeadlineMs, endToEnd, oneActivityCeiling } from './completions';
import { cpuMsPerOp, mergeCpu, rssMb, startCpuWindow, type CpuShare } from './proc';
import { rawStarts } from './raw-start';
import { startRedisCount } from './redis-stats';
import type { LevelPair } from './report';
import { startApi, waitForPollers, type BenchAccount } from './setup';
import type { BenchChild, Stack } from './stack';
import { chunks, mergeSamples, summarize, type PhaseResult, type Sample } from './stats';
import { webhookLoad } from './webhook-load';

export interface BenchContext {
  stack: Stack;
  client: Client;
  /** The bench's own pool on the service's database: seeding, and watching for charges. */
  db: pg.Pool;
  /** Only for counting the commands the service sends (rate limits, the Idempotency-Key cache). */
  redis: Redis;
  account: BenchAccount;
  runId: string;
  /** Operations per phase and concurrency level, split into `rounds` interleaved rounds. */
  n: number;
  rounds: number;
  warmup: number;
  levels: number[];
  completionConcurrency: number;
  /** Environment shared by the API and worker children (PostgreSQL, Redis, Temporal, log level, no model). */
  serviceEnv: Record<string, string>;
  temporalAddress: string;
  bundles: { app: string; ceiling: string };
  /** Processes whose CPU each phase reports; children are added while they run. */
  pids: Record<string, number | undefined>;
  /** Resident MB of each child once ready and before any load: its baseline. */
  idleRssMb: Record<string, number | undefined>;
  log(line: string): void;
}

export type Measured = PhaseResult & { rounds: number; cpu: CpuShare; cpu_ms_per_op: Record<string, number | undefined> };

/**
 * The rounds of one phase. Phases that are compared run their rounds alternately, so other load
 * on a shared machine falls on both alike; the rounds then add up to one result.
 */
class Rounds {
  private readonly samples: Sample[] = [];
  private readonly cpu: CpuShare[] = [];

  constructor(private readonly pids: BenchContext['pids']) {}

  async measure<T extends Sample>(fn: () => Promise<T>): Promise<T> {
    const window = startCpuWindow(this.pids);
    const sample = await fn();
    this.cpu.push(window.stop());
    this.samples.push(sample);
    return sample;
  }

  result(concurrency: number): Measured {
    const summary = summarize(concurrency, mergeSamples(this.samples));
    const cpu = mergeCpu(this.cpu);
    return { ...summary, rounds: this.samples.length, cpu, cpu_ms_per_op: cpuMsPerOp(cpu, summary.ok) };
  }
}

function addCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

/**
 * Raw start vs ingest at each concurrency with the same n. No worker polls either task queue, so
 * both measure the cost of starting alone.
 */
export async function startPhases(ctx: BenchContext): Promise<{ levels: LevelPair[]; api: BenchChild }> {
  const rawQueue = `bench-raw-${ctx.runId}`;
  const api = await startApi(ctx.stack, 'api-ingest', { ...ctx.serviceEnv, TEMPORAL_TASK_QUEUE: `bench-ingest-${ctx.runId}` });
  const target = { baseUrl: api.baseUrl, apiKey: ctx.account.apiKey, employeeId: ctx.account.employeeId };
  ctx.pids.api = api.child.pid;
  ctx.idleRssMb.api_ingest_phase = rssMb(api.child.pid);
  ctx.log(`warm-up: ${ctx.warmup} raw starts, ${ctx.warmup} ingest requests`);
  await rawStarts(ctx.client, { taskQueue: rawQueue, idPrefix: `raw-${ctx.runId}-warmup`, n: ctx.warmup, concurrency: 16 });
  await webhookLoad({ ...target, n: ctx.warmup, concurrency: 16, idempotencyPrefix: `bench-${ctx.runId}-warmup` });

  const levels: LevelPair[] = [];
  for (const concurrency of ctx.levels) {
    ctx.log(`concurrency ${concurrency}: ${ctx.n} raw starts, ${ctx.n} ingest-shaped starts, ${ctx.n} ingest requests, in ${ctx.rounds} rounds`);
    const raw = new Rounds(ctx.pids);
    const shaped = new Rounds(ctx.pids);
    const ingest = new Rounds(ctx.pids);
    const statuses: Record<string, number> = {};
    // Only ingest touches Redis during these rounds, so the count is ingest's alone.
    const redisCount = await startRedisCount(ctx.redis);
    for (const [round, n] of chunks(ctx.n, ctx.rounds).entries()) {
      const tag = `${ctx.runId}-c${concurrency}-r${round}`;
      await raw.measure(() => rawStarts(ctx.client, { taskQueue: rawQueue, idPrefix: `raw-${tag}`, n, concurrency }));
      await shaped.measure(() => rawStarts(ctx.client, { taskQueue: rawQueue, idPrefix: `shaped-${tag}`, n, concurrency, shape: 'ingest-shaped' }));
      const load = await ingest.measure(() => webhookLoad({ ...target, n, concurrency, idempotencyPrefix: `bench-${tag}` }));
      addCounts(statuses, load.statuses);
    }
    const pair: LevelPair = {
      concurrency,
      raw_start: raw.result(concurrency),
      raw_start_ingest_shaped: shaped.result(concurrency),
      ingest: { ...ingest.result(concurrency), statuses, redis_commands_per_op: {} },
    };
    pair.ingest.redis_commands_per_op = await redisCount.stop(pair.ingest.ok);
    levels.push(pair);
    ctx.log(
      `  raw ${pair.raw_start.throughput}/s p99 ${pair.raw_start.p99_ms} ms | ingest-shaped ${pair.raw_start_ingest_shaped.throughput}/s ` +
        `p99 ${pair.raw_start_ingest_shaped.p99_ms} ms | ingest ${pair.ingest.throughput}/s p99 ${pair.ingest.p99_ms} ms ${JSON.stringify(statuses)}`,
    );
  }
  await api.child.stop();
  delete ctx.pids.api;
  return { levels, api: api.child };
}

export interface CompletionResults {
  ceiling: Measured;
  endToEnd: Measured & { statuses: Record<string, number>; redis_commands_per_op: Record<string, number> };
  children: { api: BenchChild; worker: BenchChild; ceilingWorker: BenchChild };
}

/**
 * One-activity ceiling (small ceiling worker) vs end-to-end (real API and worker, inbox runtime),
 * in alternating rounds. Both workers poll throughout; an idle poller costs next to nothing.
 */
export async function completionPhases(ctx: BenchContext): Promise<CompletionResults> {
  const ceilingQueue = `bench-ceiling-${ctx.runId}`;
  const e2eQueue = `bench-e2e-${ctx.runId}`;
  const ceilingWorker = ctx.stack.spawnChild('ceiling-worker', 'bench/ceiling-worker.ts', {}, [
    '--address',
    ctx.temporalAddress,
    '--task-queue',
    ceilingQueue,
    '--bundle',
    ctx.bundles.ceiling,
  ]);
  const worker = ctx.stack.spawnChild('worker', 'src/worker.ts', { ...ctx.serviceEnv, TEMPORAL_TASK_QUEUE: e2eQueue, WORKFLOW_BUNDLE_PATH: ctx.bundles.app });
  const api = await startApi(ctx.stack, 'api-e2e', { ...ctx.serviceEnv, TEMPORAL_TASK_QUEUE: e2eQueue });
  Object.assign(ctx.pids, { api: api.child.pid, worker: worker.pid, ceiling_worker: ceilingWorker.pid });
  await Promise.all([waitForPollers(ctx.client, ceilingQueue), waitForPollers(ctx.client, e2eQueue)]);
  Object.assign(ctx.idleRssMb, { api_e2e_phase: rssMb(api.child.pid), worker: rssMb(worker.pid), ceiling_worker: rssMb(ceilingWorker.pid) });

  const concurrency = ctx.completionConcurrency;
  // No Idempotency-Key: the event workflow closes as soon as the charge is posted.
  const target = { baseUrl: api.baseUrl, apiKey: ctx.account.apiKey, employeeId: ctx.account.employeeId, concurrency, trackMessages: true };
  ctx.log(
    `completions: warm-up ${ctx.warmup} each, then ${ctx.n} one-activity workflows and ${ctx.n} events at concurrency ${concurrency}, in ${ctx.rounds} rounds`,
  );
  const warmCeiling = await oneActivityCeiling(ctx.client, {
    taskQueue: ceilingQueue,
    idPrefix: `warmup-${ctx.runId}`,
    n: ctx.warmup,
    concurrency,
    alreadyCompleted: 0,
  });
  let completed = warmCeiling.latenciesMs.length;
  const warmWatcher = new ChargeWatcher(ctx.db, ctx.account.accountId);
  const warm = await webhookLoad({ ...target, n: ctx.warmup });
  await warmWatcher.waitFor([...warm.sentAt.keys()], completionDeadlineMs(ctx.warmup));

  const ceiling = new Rounds(ctx.pids);
  const e2e = new Rounds(ctx.pids);
  const statuses: Record<string, number> = {};
  const redisCount = await startRedisCount(ctx.redis);
  for (const [round, n] of chunks(ctx.n, ctx.rounds).entries()) {
    const one = await ceiling.measure(() =>
      oneActivityCeiling(ctx.client, { taskQueue: ceilingQueue, idPrefix: `one-${ctx.runId}-r${round}`, n, concurrency, alreadyCompleted: completed }),
    );
    completed += one.latenciesMs.length;
    await e2e.measure(async () => {
      const watcher = new ChargeWatcher(ctx.db, ctx.account.accountId);
      const load = await webhookLoad({ ...target, n });
      addCounts(statuses, load.statuses);
      return endToEnd(watcher, load);
    });
  }
  const endToEndResult = { ...e2e.result(concurrency), statuses, redis_commands_per_op: {} as Record<string, number> };
  // The service's commands alone: the bench watches for charges in PostgreSQL.
  endToEndResult.redis_commands_per_op = await redisCount.stop(endToEndResult.ok);
  const ceilingResult = ceiling.result(concurrency);
  ctx.log(
    `  one-activity ${ceilingResult.throughput}/s p50 ${ceilingResult.p50_ms} ms | end-to-end ${endToEndResult.throughput}/s p50 ${endToEndResult.p50_ms} ms ${JSON.stringify(statuses)}`,
  );
  await Promise.all([api.child.stop(), worker.stop(), ceilingWorker.stop()]);
  return { ceiling: ceilingResult, endToEnd: endToEndResult, children: { api: api.child, worker, ceilingWorker } };
}
