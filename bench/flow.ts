import { EmployeeStore, type FlowMode } from '../src/stores/employees';
import { ChargeWatcher, endToEnd } from './completions';
import type { BenchContext } from './phases';
import { startApi, waitForPollers } from './setup';
import { chunks, mergeSamples, summarize, type PhaseResult, type Sample } from './stats';
import { webhookLoad } from './webhook-load';

/** Events per second through one employee in each mode, beside each other. */
export type FlowReport = Partial<Record<FlowMode, PhaseResult>> & { n: number; concurrency: number };

/** The modes measured; `batch` joins them once it exists. */
const MODES: FlowMode[] = ['parallel', 'ordered'];
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
    await employees.updateFlow(employee.id, { mode });
    targets.set(mode, employee.id);
  }
  const load = (mode: FlowMode, count: number) =>
    webhookLoad({ baseUrl: api.baseUrl, apiKey: ctx.account.apiKey, employeeId: targets.get(mode)!, n: count, concurrency: CONCURRENCY, trackMessages: true });
  // The API's employee cache (one second) has seen the modes by the time the warm-up ends.
  for (const mode of MODES) {
    const warm = await load(mode, Math.min(ctx.warmup, 20));
    await new ChargeWatcher(ctx.db, ctx.account.accountId).waitFor([...warm.sentAt.keys()], 120_000);
  }
  ctx.log(`flow: ${n} events through one employee per mode (${MODES.join(', ')}) at concurrency ${CONCURRENCY}, in ${ctx.rounds} rounds`);
  const samples = new Map<FlowMode, Sample[]>(MODES.map((m) => [m, []]));
  for (const count of chunks(n, ctx.rounds)) {
    for (const mode of MODES) {
      const watcher = new ChargeWatcher(ctx.db, ctx.account.accountId);
      samples.get(mode)!.push(await endToEnd(watcher, await load(mode, count)));
    }
  }
  const report: FlowReport = { n, concurrency: CONCURRENCY };
  for (const mode of MODES) report[mode] = summarize(CONCURRENCY, mergeSamples(samples.get(mode)!));
  ctx.log(`  ${MODES.map((m) => `${m} ${report[m]!.throughput}/s p50 ${report[m]!.p50_ms} ms`).join(' | ')}`);
  await Promise.all([api.child.stop(), worker.stop()]);
  return report;
}
