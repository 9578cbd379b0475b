import type { Client, WorkflowStartOptions } from '@temporalio/client';
import { formatWebhookMessage } from '../src/domain/events';
import { truncate } from '../src/shared/text';
import { ACCOUNT_ID, EMPLOYEE_ID, EVENT_STATUS, EVENT_TYPE, type EventMemo } from '../workflows/contract';
import { runPool, type Sample } from './stats';

/** Start options shaped like src/events/ingest.ts sends them: id policies, summary, memo, four search attributes. */
export type StartShape = 'plain' | 'ingest-shaped';

function ingestShaped(i: number): Partial<WorkflowStartOptions> {
  const payload = 'Customer John placed order #1234 for $99.';
  return {
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    workflowIdConflictPolicy: 'FAIL',
    staticSummary: truncate(formatWebhookMessage(payload, 'order.completed'), 200),
    memo: {
      messageId: `m-${i}`,
      employeeId: 'bench-employee',
      requestId: `r-${i}`,
      idempotencyKey: `k-${i}`,
      receivedAt: new Date().toISOString(),
      dedupUntil: Date.now() + 300_000,
    } satisfies EventMemo,
    typedSearchAttributes: [
      { key: ACCOUNT_ID, value: 'bench-account' },
      { key: EMPLOYEE_ID, value: 'bench-employee' },
      { key: EVENT_TYPE, value: 'order.completed' },
      { key: EVENT_STATUS, value: 'accepted' },
    ],
  };
}

/**
 * Raw start ceiling: `n` plain `client.workflow.start` calls of the no-op workflow, `concurrency`
 * at a time, on a task queue nobody polls. Each call's latency is the start's round trip.
 * `ingest-shaped` sends the options the API sends, to tell the HTTP layer's cost from the start's.
 */
export async function rawStarts(
  client: Client,
  opts: { taskQueue: string; idPrefix: string; n: number; concurrency: number; shape?: StartShape },
): Promise<Sample> {
  const latencies: number[] = [];
  let errors = 0;
  const started = process.hrtime.bigint();
  await runPool(opts.n, opts.concurrency, async (i) => {
    const t0 = process.hrtime.bigint();
    try {
      const shape = opts.shape === 'ingest-shaped' ? ingestShaped(i) : {};
      await client.workflow.start('noopWorkflow', { ...shape, taskQueue: opts.taskQueue, workflowId: `${opts.idPrefix}-${i}` });
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
    } catch {
      errors += 1;
    }
  });
  return { n: opts.n, errors, durationMs: Number(process.hrtime.bigint() - started) / 1e6, latenciesMs: latencies };
}
