import type { Client } from '@temporalio/client';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import { eventWorkflowId } from '../src/events/workflow-id';
import { historyShape, type HistoryShape } from './history-shape';
import { ChargeWatcher, completionDeadlineMs, endToEnd, oneActivityCeiling } from './completions';
import { mergeSessions, sampleSessions, type SessionSample } from './pg-waits';
import { cpuMsPerOp, mergeCpu, rssMb, startCpuWindow, type CpuShare, type PidSpec } from './proc';
import { rawStarts } from './raw-start';
import { startRedisCount } from './redis-stats';
import { startApi, startFloorApi, waitForPollers, type BenchAccount } from './setup';
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
  /** Also end-to-end with two workers behind one API (a queue, an API and two workers of their own). */
  twoWorkers: boolean;
  /** Sample PostgreSQL's sessions (pg_stat_activity) during every measured round: see pg-waits.ts. */
  sampleSessions: boolean;
  /** Environment shared by the API and worker children (PostgreSQL, Redis, Temporal, log level, no model). */
  serviceEnv: Record<string, string>;
  temporalAddress: string;
  bundles: { app: string; ceiling: string };
  /** Processes whose CPU each phase reports; children are added while they run. */
  pids: Record<string, PidSpec>;
  /** Resident MB of each child once ready and before any load: its baseline. */
  idleRssMb: Record<string, number | undefined>;
  log(line: string): void;
}

export type Measured = PhaseResult & {
  rounds: number;
  cpu: CpuShare;
  cpu_ms_per_op: Record<string, number | undefined>;
  /** With `sampleSessions`: what PostgreSQL's sessions did during the phase, ours and Temporal's. */
  pg_sessions?: SessionSample;
};

/**
 * The rounds of one phase. Phases that are compared run their rounds alternately, so other load
 * on a shared machine falls on both alike; the rounds then add up to one result.
 */
class Rounds {
  private readonly samples: Sample[] = [];
  private readonly cpu: CpuShare[] = [];
  private readonly sessions: SessionSample[] = [];

  /** `db`: sample PostgreSQL's sessions during each round. */
  constructor(
    private readonly pids: BenchContext['pids'],
    private readonly db?: pg.Pool,
  ) {}

  async measure<T extends Sample>(fn: () => Promise<T>): Promise<T> {
    const sessions = this.db ? sampleSessions(this.db) : undefined;
    const window = startCpuWindow(this.pids);
    const sample = await fn();
    this.cpu.push(window.stop());
    if (sessions) this.sessions.push(await sessions.stop());
    this.samples.push(sample);
    return sample;
  }

  result(concurrency: number): Measured {
    const summary = summarize(concurrency, mergeSamples(this.samples));
    const cpu = mergeCpu(this.cpu);
    const pgSessions = mergeSessions(this.sessions);
    return { ...summary, rounds: this.samples.length, cpu, cpu_ms_per_op: cpuMsPerOp(cpu, summary.ok), ...(pgSessions ? { pg_sessions: pgSessions } : {}) };
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
  const sessionsDb = ctx.sampleSessions ? ctx.db : undefined;
  const api = await startApi(ctx.stack, 'api-ingest', { ...ctx.serviceEnv, TEMPORAL_TASK_QUEUE: `bench-ingest-${ctx.runId}` });
  const target = { baseUrl: api.baseUrl, apiKey: ctx.account.apiKey, employeeId: ctx.account.employeeId };
  const floor = await startFloorApi(ctx.stack, { ...ctx.serviceEnv, TEMPORAL_TASK_QUEUE: `bench-floor-${ctx.runId}` });
  const floorTarget = { ...target, baseUrl: floor.baseUrl };
  ctx.pids.api = api.child.pid;
  // While one of the two serves a round, the other idles outside `others`.
  const ingestPids = { ...ctx.pids, standby: floor.child.pid };
  const floorPids = { ...ctx.pids, api: floor.child.pid, standby: api.child.pid };
  ctx.idleRssMb.api_ingest_phase = rssMb(api.child.pid);
  ctx.log(`warm-up: ${ctx.warmup} raw starts, ${ctx.warmup} ingest requests`);
  await rawStarts(ctx.client, { taskQueue: rawQueue, idPrefix: `raw-${ctx.runId}-warmup`, n: ctx.warmup, concurrency: 16 });
  await webhookLoad({ ...target, n: ctx.warmup, concurrency: 16, idempotencyPrefix: `bench-${ctx.runId}-warmup` });
  await webhookLoad({ ...floorTarget, n: ctx.warmup, concurrency: 16, idempotencyPrefix: `floor-${ctx.runId}-warmup` });

  const levels: LevelPair[] = [];
  for (const concurrency of ctx.levels) {
    ctx.log(`concurrency ${concurrency}: ${ctx.n} raw starts, ${ctx.n} ingest-shaped starts, ${ctx.n} ingest requests, in ${ctx.rounds} rounds`);
    const raw = new Rounds(ctx.pids, sessionsDb);
    const shaped = new Rounds(ctx.pids, sessionsDb);
    const ingest = new Rounds(ingestPids, sessionsDb);
    const floorRounds = new Rounds(floorPids, sessionsDb);
    const statuses: Record<string, number> = {};
    // Only ingest touches Redis during these rounds, so the count is ingest's alone.
    const redisCount = await startRedisCount(ctx.redis);
    let floorCommands = 0;
    for (const [round, n] of chunks(ctx.n, ctx.rounds).entries()) {
      const tag = `${ctx.runId}-c${concurrency}-r${round}`;
      await raw.measure(() => rawStarts(ctx.client, { taskQueue: rawQueue, idPrefix: `raw-${tag}`, n, concurrency }));
      await shaped.measure(() => rawStarts(ctx.client, { taskQueue: rawQueue, idPrefix: `shaped-${tag}`, n, concurrency, shape: 'ingest-shaped' }));
      const load = await ingest.measure(() => webhookLoad({ ...target, n, concurrency, idempotencyPrefix: `bench-${tag}` }));
      addCounts(statuses, load.statuses);
      // The floor's one Redis command per request is not the service's: taken out of the count below.
      const floorLoad = await floorRounds.measure(() => webhookLoad({ ...floorTarget, n, concurrency, idempotencyPrefix: `floor-${tag}` }));
      floorCommands += floorLoad.n;
    }
    const pair: LevelPair = {
      concurrency,
      raw_start: raw.result(concurrency),
      raw_start_ingest_shaped: shaped.result(concurrency),
      ingest: { ...ingest.result(concurrency), statuses, redis_commands_per_op: {} },
      ingest_floor: floorRounds.result(concurrency),
    };
    pair.ingest.redis_commands_per_op = await redisCount.stop(pair.ingest.ok, { set: floorCommands });
    pair.api_peak_rss_mb_after = api.child.peakRssMb();
    levels.push(pair);
    ctx.log(
      `  raw ${pair.raw_start.throughput}/s p99 ${pair.raw_start.p99_ms} ms | ingest-shaped ${pair.raw_start_ingest_shaped.throughput}/s ` +
        `p99 ${pair.raw_start_ingest_shaped.p99_ms} ms | ingest ${pair.ingest.throughput}/s p99 ${pair.ingest.p99_ms} ms ${JSON.stringify(statuses)} | API VmHWM ${pair.api_peak_rss_mb_after ?? '-'} MB`,
    );
  }
  await Promise.all([api.child.stop(), floor.child.stop()]);
  delete ctx.pids.api;
  return { levels, api: api.child };
}

export type EndToEnd = Measured & { statuses: Record<string, number>; redis_commands_per_op: Record<string, number> };

export interface LevelPair {
  concurrency: number;
  raw_start: Measured;
  /** Diagnostic: a raw start with the options the API sends (summary, memo, search attributes). */
  raw_start_ingest_shaped: Measured;
  /**
   * The floor under the API's CPU: bench/floor-api.ts makes an accepted event's round trips (HTTP,
   * one Redis command, one PostgreSQL statement, one ingest-shaped start) with bare libraries.
   */
  ingest_floor: Measured;
  ingest: Measured & { statuses: Record<string, number>; redis_commands_per_op: Record<string, number> };
  /** The ingest API's peak RSS (VmHWM) once this level's rounds are done: which level made it grow. */
  api_peak_rss_mb_after?: number;
}

export interface CompletionResults {
  ceiling: Measured;
  endToEnd: EndToEnd;
  /** With `twoWorkers`: the same events through one API of their own and two workers on their queue. */
  endToEndTwoWorkers?: EndToEnd;
  children: { api: BenchChild; worker: BenchChild; ceilingWorker: BenchChild; twoWorkers?: { api: BenchChild; workers: BenchChild[] } };
  /** History events and visibility writes per workflow: the one-activity workflow's and an event's. */
  history: { one_activity: HistoryShape; event: HistoryShape };
}

/** Histories read per phase for their shape: they are alike, a few tell. */
const HISTORY_SAMPLE = 20;

/**
 * One-activity ceiling (small ceiling worker) vs end-to-end (real API and worker, inbox runtime),
 * in alternating rounds. Both workers poll throughout; an idle poller costs next to nothing.
 * With `twoWorkers`, a third phase in the same rounds: end-to-end through a second API whose queue
 * two workers poll. Each row's `api` and `worker` CPU columns are the processes serving it (the
 * two workers summed); the idle set counts as `standby`, outside `others`.
 */
export async function completionPhases(ctx: BenchContext): Promise<CompletionResults> {
  const ceilingQueue = `bench-ceiling-${ctx.runId}`;
  const sessionsDb = ctx.sampleSessions ? ctx.db : undefined;
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
  let two: { api: Awaited<ReturnType<typeof startApi>>; workers: BenchChild[]; queue: string } | undefined;
  if (ctx.twoWorkers) {
    const queue = `bench-e2e2-${ctx.runId}`;
    const env = { ...ctx.serviceEnv, TEMPORAL_TASK_QUEUE: queue, WORKFLOW_BUNDLE_PATH: ctx.bundles.app };
    const workers = ['worker-2a', 'worker-2b'].map((name) => ctx.stack.spawnChild(name, 'src/worker.ts', env));
    two = { api: await startApi(ctx.stack, 'api-e2e2', { ...ctx.serviceEnv, TEMPORAL_TASK_QUEUE: queue }), workers, queue };
  }
  Object.assign(ctx.pids, { api: api.child.pid, worker: worker.pid, ceiling_worker: ceilingWorker.pid });
  await Promise.all([
    waitForPollers(ctx.client, ceilingQueue),
    waitForPollers(ctx.client, e2eQueue),
    ...(two ? [waitForPollers(ctx.client, two.queue, 60_000, two.workers.length)] : []),
  ]);
  Object.assign(ctx.idleRssMb, { api_e2e_phase: rssMb(api.child.pid), worker: rssMb(worker.pid), ceiling_worker: rssMb(ceilingWorker.pid) });
  if (two)
    Object.assign(ctx.idleRssMb, { api_e2e2_phase: rssMb(two.api.child.pid), worker_2a: rssMb(two.workers[0].pid), worker_2b: rssMb(two.workers[1].pid) });
  // Which processes each row's columns stand for; the set not serving the row idles as `standby`.
  const oneWorkerPids = two ? { ...ctx.pids, standby: [two.api.child.pid, ...two.workers.map((w) => w.pid)] } : ctx.pids;
  const twoWorkerPids = two ? { ...ctx.pids, api: two.api.child.pid, worker: two.workers.map((w) => w.pid), standby: [api.child.pid, worker.pid] } : undefined;

  const concurrency = ctx.completionConcurrency;
  // No Idempotency-Key: the event workflow closes as soon as the charge is posted.
  const target = { baseUrl: api.baseUrl, apiKey: ctx.account.apiKey, employeeId: ctx.account.employeeId, concurrency, trackMessages: true };
  ctx.log(
    `completions: warm-up ${ctx.warmup} each, then ${ctx.n} one-activity workflows and ${ctx.n} events${two ? ` (one worker), ${ctx.n} events (two workers)` : ''} at concurrency ${concurrency}, in ${ctx.rounds} rounds`,
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
  const target2 = two ? { ...target, baseUrl: two.api.baseUrl } : undefined;
  if (target2) {
    // Both workers of the pair warm up: each gets a share of these events.
    const warm2 = await webhookLoad({ ...target2, n: ctx.warmup });
    await warmWatcher.waitFor([...warm2.sentAt.keys()], completionDeadlineMs(ctx.warmup));
  }

  const ceiling = new Rounds(oneWorkerPids, sessionsDb);
  const e2e = new Rounds(oneWorkerPids, sessionsDb);
  const e2e2 = twoWorkerPids ? new Rounds(twoWorkerPids, sessionsDb) : undefined;
  const statuses: Record<string, number> = {};
  const statuses2: Record<string, number> = {};
  // Counts both end-to-end phases' commands: the same per event.
  const redisCount = await startRedisCount(ctx.redis);
  const sampledEvents: string[] = [];
  for (const [round, n] of chunks(ctx.n, ctx.rounds).entries()) {
    const one = await ceiling.measure(() =>
      oneActivityCeiling(ctx.client, { taskQueue: ceilingQueue, idPrefix: `one-${ctx.runId}-r${round}`, n, concurrency, alreadyCompleted: completed }),
    );
    completed += one.latenciesMs.length;
    await e2e.measure(async () => {
      const watcher = new ChargeWatcher(ctx.db, ctx.account.accountId);
      const load = await webhookLoad({ ...target, n });
      addCounts(statuses, load.statuses);
      if (sampledEvents.length === 0) sampledEvents.push(...[...load.sentAt.keys()].slice(0, HISTORY_SAMPLE));
      return endToEnd(watcher, load);
    });
    if (e2e2 && target2)
      await e2e2.measure(async () => {
        const watcher = new ChargeWatcher(ctx.db, ctx.account.accountId);
        const load = await webhookLoad({ ...target2, n });
        addCounts(statuses2, load.statuses);
        return endToEnd(watcher, load);
      });
  }
  const endToEndResult: EndToEnd = { ...e2e.result(concurrency), statuses, redis_commands_per_op: {} };
  const twoWorkersResult: EndToEnd | undefined = e2e2 ? { ...e2e2.result(concurrency), statuses: statuses2, redis_commands_per_op: {} } : undefined;
  // The service's commands alone: the bench watches for charges in PostgreSQL.
  endToEndResult.redis_commands_per_op = await redisCount.stop(endToEndResult.ok + (twoWorkersResult?.ok ?? 0));
  if (twoWorkersResult) twoWorkersResult.redis_commands_per_op = endToEndResult.redis_commands_per_op;
  const ceilingResult = ceiling.result(concurrency);
  ctx.log(
    `  one-activity ${ceilingResult.throughput}/s p50 ${ceilingResult.p50_ms} ms | end-to-end ${endToEndResult.throughput}/s p50 ${endToEndResult.p50_ms} ms ${JSON.stringify(statuses)}` +
      (twoWorkersResult ? ` | two workers ${twoWorkersResult.throughput}/s p50 ${twoWorkersResult.p50_ms} ms ${JSON.stringify(statuses2)}` : ''),
  );
  const history = {
    one_activity: await historyShape(
      ctx.client,
      // Round 0's workflows, the same kind the events are sampled from.
      Array.from({ length: Math.min(HISTORY_SAMPLE, chunks(ctx.n, ctx.rounds)[0]) }, (_, i) => `one-${ctx.runId}-r0-${i}`),
    ),
    event: await historyShape(
      ctx.client,
      sampledEvents.map((messageId) => eventWorkflowId(ctx.account.accountId, messageId)),
    ),
  };
  ctx.log(
    `  history per workflow: one-activity ${history.one_activity.events_per_workflow} events, ${history.one_activity.visibility_writes_per_workflow} visibility writes | event ${history.event.events_per_workflow} events, ${history.event.visibility_writes_per_workflow} visibility writes`,
  );
  await Promise.all([api.child.stop(), worker.stop(), ceilingWorker.stop(), ...(two ? [two.api.child.stop(), ...two.workers.map((w) => w.stop())] : [])]);
  return {
    ceiling: ceilingResult,
    endToEnd: endToEndResult,
    ...(twoWorkersResult ? { endToEndTwoWorkers: twoWorkersResult } : {}),
    children: { api: api.child, worker, ceilingWorker, ...(two ? { twoWorkers: { api: two.api.child, workers: two.workers } } : {}) },
    history,
  };
}
