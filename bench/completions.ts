import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { runPool, type Sample } from './stats';
import type { WebhookLoadResult } from './webhook-load';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How long a completion phase may take before it gives up: generous, but bounded. */
export function completionDeadlineMs(n: number): number {
  return 60_000 + n * 100;
}

/**
 * One-activity ceiling: starts `n` one-activity workflows (`concurrency` at a time) and waits until
 * visibility counts them all completed. Throughput is n / (first start → last close time); each
 * workflow's latency is its close time minus its start time, as the server recorded them.
 */
export async function oneActivityCeiling(
  client: Client,
  opts: { taskQueue: string; idPrefix: string; n: number; concurrency: number; alreadyCompleted: number },
): Promise<Sample> {
  const firstStart = Date.now();
  let errors = 0;
  await runPool(opts.n, opts.concurrency, async (i) => {
    try {
      await client.workflow.start('oneActivityWorkflow', { taskQueue: opts.taskQueue, workflowId: `${opts.idPrefix}-${i}` });
    } catch {
      errors += 1;
    }
  });
  const expected = opts.alreadyCompleted + opts.n - errors;
  await waitForCompleted(client, opts.taskQueue, expected, completionDeadlineMs(opts.n));

  const latencies: number[] = [];
  let lastClose = firstStart;
  for await (const wf of client.workflow.list({ query: `TaskQueue="${opts.taskQueue}" AND ExecutionStatus="Completed"` })) {
    if (!wf.workflowId.startsWith(`${opts.idPrefix}-`) || !wf.closeTime) continue;
    latencies.push(wf.closeTime.getTime() - wf.startTime.getTime());
    lastClose = Math.max(lastClose, wf.closeTime.getTime());
  }
  return { n: opts.n, errors: opts.n - latencies.length, durationMs: lastClose - firstStart, latenciesMs: latencies };
}

/** Polls visibility every 250 ms: one count query per poll, little next to the workflows themselves. */
export async function waitForCompleted(client: Client, taskQueue: string, expected: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let count = 0;
  while (Date.now() < deadline) {
    ({ count } = await client.workflow.count(`TaskQueue="${taskQueue}" AND ExecutionStatus="Completed"`));
    if (count >= expected) return count;
    await sleep(250);
  }
  return count;
}

/**
 * The charge postings of an account's events, read from the ledger in PostgreSQL: the time of each
 * charge by message id. Each poll asks only for the ids not yet charged, by the unique index on
 * (account, message, kind), so it costs the database a few index probes per event still in flight
 * and nothing for the account's other postings (top-ups, reservations, releases).
 */
export class ChargeWatcher {
  readonly chargedAt = new Map<string, number>();

  constructor(
    private readonly db: pg.Pool,
    private readonly accountId: string,
  ) {}

  private async poll(ids: string[]): Promise<void> {
    const pending = ids.filter((id) => !this.chargedAt.has(id));
    if (pending.length === 0) return;
    const { rows } = await this.db.query<{ message_id: string; at: Date }>(
      `SELECT message_id, at FROM postings WHERE account_id = $1 AND kind = 'charge' AND message_id = ANY ($2::uuid[])`,
      [this.accountId, pending],
    );
    for (const row of rows) this.chargedAt.set(row.message_id, row.at.getTime());
  }

  /** Polls every 100 ms until every id is charged or the deadline passes; returns how many are. */
  async waitFor(ids: string[], timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await this.poll(ids);
      const charged = ids.filter((id) => this.chargedAt.has(id)).length;
      if (charged === ids.length || Date.now() >= deadline) return charged;
      await sleep(100);
    }
  }
}

/**
 * End-to-end: after the POSTs of `load`, waits until every accepted event is charged (or the
 * deadline passes). Throughput is charged events / (first POST → last charge posting); each
 * event's latency is its charge posting's time minus the time its POST was sent.
 */
export async function endToEnd(watcher: ChargeWatcher, load: WebhookLoadResult): Promise<Sample> {
  const ids = [...load.sentAt.keys()];
  await watcher.waitFor(ids, completionDeadlineMs(load.n));
  const latencies: number[] = [];
  let lastCharge = load.startedAtMs;
  for (const id of ids) {
    const at = watcher.chargedAt.get(id);
    if (at === undefined) continue;
    latencies.push(at - load.sentAt.get(id)!);
    lastCharge = Math.max(lastCharge, at);
  }
  return { n: load.n, errors: load.n - latencies.length, durationMs: lastCharge - load.startedAtMs, latenciesMs: latencies };
}
