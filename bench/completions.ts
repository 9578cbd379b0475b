import type { Client } from '@temporalio/client';
import type { Redis } from 'ioredis';
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

/** The fields of a ledger posting that the bench reads; every other field is the service's business. */
interface PostingLine {
  kind: string;
  at: string;
  messageId?: string;
}

/**
 * Follows an account's append-only ledger from where it stood when created, collecting the time of
 * each charge posting by message id. The ledger also holds other postings (top-ups, reservations,
 * releases), so charges are counted by kind, never by the list's length.
 */
export class ChargeWatcher {
  readonly chargedAt = new Map<string, number>();

  private constructor(private readonly redis: Redis, private readonly ledgerKey: string, private cursor: number) {}

  static async start(redis: Redis, ledgerKey: string): Promise<ChargeWatcher> {
    return new ChargeWatcher(redis, ledgerKey, await redis.llen(ledgerKey));
  }

  /** Reads only what was appended since the last poll. */
  private async poll(): Promise<void> {
    const lines = await this.redis.lrange(this.ledgerKey, this.cursor, -1);
    this.cursor += lines.length;
    for (const line of lines) {
      const posting = JSON.parse(line) as PostingLine;
      if (posting.kind === 'charge' && posting.messageId) this.chargedAt.set(posting.messageId, Date.parse(posting.at));
    }
  }

  /** Polls every 100 ms until every id is charged or the deadline passes; returns how many are. */
  async waitFor(ids: string[], timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await this.poll();
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
