import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { EmployeeStore, type FlowMode } from '../src/stores/employees';
import { ChargeWatcher, completionDeadlineMs, endToEnd } from './completions';
import type { BenchContext } from './phases';
import { startApi, waitForPollers } from './setup';
import { chunks, mergeSamples, summarize, type PhaseResult, type Sample } from './stats';
import { webhookLoad, type WebhookLoadResult } from './webhook-load';

/** Events per second through one employee in each mode, beside each other. */
export type FlowReport = Partial<Record<FlowMode, PhaseResult>> & { n: number; concurrency: number };

const MODES: FlowMode[] = ['parallel', 'ordered', 'batch'];
/** Batch mode's window in the bench: short, so a round is not mostly waiting. */
const BATCH = { debounceMs: 200, maxWaitMs: 2_000, maxBatch: 50 };
/** One employee's events sent by this many connections at once: ordered mode takes them one at a time anyway. */
const CONCURRENCY = 16;

/**
 * One API and one worker of their own; one employee per mode in the bench's account, the events of
 * each sent at CONCURRENCY and charged end to end (inbox runtime, no model), in alternating rounds.
 * `n` is smaller than the throughput phases': ordered mode runs one event at a time.
 */
export async function flowPhase(ctx: BenchContext, n: number): Promise<FlowReport> {
  const queue = `bench-flow-${ctx.runId}`;
  const worker = ctx.stack.spawnChild('worker-flow', 'src/worker.ts', { ...ctx.serviceEnv, TEMPORAL_TASK_QUEUE: queue, WORKFLOW_BUNDLE_PATH: ctx.bundles.app });
  const api = await startApi(ctx.stack, 'api-flow', { ...ctx.serviceEnv, TEMPORAL_TASK_QUEUE: queue });
  await waitForPollers(ctx.client, queue);
  const employees = new EmployeeStore(ctx.db);
  const targets = new Map<FlowMode, string>();
  for (const mode of MODES) {
    const employee = await employees.createEmployee({ accountId: ctx.account.accountId, name: `Bench ${mode}` });
    await employees.updateFlow(employee.id, { mode, ...(mode === 'batch' ? BATCH : {}) });
    targets.set(mode, employee.id);
  }
  const load = (mode: FlowMode, count: number) =>
    webhookLoad({ baseUrl: api.baseUrl, apiKey: ctx.account.apiKey, employeeId: targets.get(mode)!, n: count, concurrency: CONCURRENCY, trackMessages: true });
  // The API's employee cache (one second) has seen the modes by the time the warm-up ends.
  for (const mode of MODES) {
    const warm = await load(mode, Math.min(ctx.warmup, 20));
    await settled(ctx.db, mode, ctx.account.accountId, warm);
  }
  ctx.log(`flow: ${n} events through one employee per mode (${MODES.join(', ')}) at concurrency ${CONCURRENCY}, in ${ctx.rounds} rounds`);
  const samples = new Map<FlowMode, Sample[]>(MODES.map((m) => [m, []]));
  for (const count of chunks(n, ctx.rounds)) {
    for (const mode of MODES) {
      samples.get(mode)!.push(await settled(ctx.db, mode, ctx.account.accountId, await load(mode, count)));
    }
  }
  const report: FlowReport = { n, concurrency: CONCURRENCY };
  for (const mode of MODES) report[mode] = summarize(CONCURRENCY, mergeSamples(samples.get(mode)!));
  ctx.log(`  ${MODES.map((m) => `${m} ${report[m]!.throughput}/s p50 ${report[m]!.p50_ms} ms`).join(' | ')}`);
  await Promise.all([api.child.stop(), worker.stop()]);
  return report;
}

/**
 * POST to charge per event: its own charge, or in batch mode its batch's (posted against the
 * batch's first message; the others record it in `batch_of`).
 */
async function settled(db: pg.Pool, mode: FlowMode, accountId: string, load: WebhookLoadResult): Promise<Sample> {
  if (mode !== 'batch') return endToEnd(new ChargeWatcher(db, accountId), load);
  const ids = [...load.sentAt.keys()];
  const chargedAt = new Map<string, number>();
  const deadline = Date.now() + completionDeadlineMs(load.n);
  while (chargedAt.size < ids.length && Date.now() < deadline) {
    const { rows } = await db.query<{ id: string; at: Date }>(
      `SELECT m.id, p.at FROM messages m JOIN postings p ON p.account_id = m.account_id AND p.message_id = m.batch_of AND p.kind = 'charge'
       WHERE m.id = ANY ($1::uuid[])`,
      [ids.filter((id) => !chargedAt.has(id))],
    );
    for (const row of rows) chargedAt.set(row.id, row.at.getTime());
    if (chargedAt.size < ids.length) await sleep(100);
  }
  const latencies = ids.flatMap((id) => (chargedAt.has(id) ? [chargedAt.get(id)! - load.sentAt.get(id)!] : []));
  const last = Math.max(load.startedAtMs, ...chargedAt.values());
  return { n: load.n, errors: load.n - latencies.length, durationMs: last - load.startedAtMs, latenciesMs: latencies };
}
