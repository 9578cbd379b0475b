import { CancellationScope, continueAsNew, isCancellation, proxyActivities, sleep, workflowInfo, type ActivityOptions } from '@temporalio/workflow';
import type { BulkReplay, BulkReplayActivities, BulkReplayInput, BulkReplayResult } from './contract';

/** Items one step replays; a step heartbeats per item, so a worker that dies mid-step is noticed soon. */
const STEP_ITEMS = 20;
const OPTIONS: ActivityOptions = {
  startToCloseTimeout: '5m',
  heartbeatTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
};
const bulk = proxyActivities<BulkReplayActivities>(OPTIONS);

/**
 * A confirmed bulk replay: steps through its items (fixed in PostgreSQL at confirmation) until none
 * is left, sleeping when the account's rate limit is spent. Each item's replay is claimed under a
 * window named after the bulk and the item, so a step retried after a crash starts nothing twice.
 * Cancelled (DELETE), it stops between items and says so.
 */
export async function bulkReplay(input: BulkReplayInput): Promise<BulkReplayResult> {
  try {
    for (;;) {
      const step = await bulk.replayBulkStep.executeWithOptions({ ...OPTIONS, summary: `replay up to ${STEP_ITEMS}` }, [
        { bulkId: input.bulkId, accountId: input.accountId, max: STEP_ITEMS },
      ]);
      if (step.remaining === 0) break;
      if (step.waitMs > 0) await sleep(step.waitMs);
      // The items live in PostgreSQL: a new run carries nothing but the bulk's id.
      if (workflowInfo().continueAsNewSuggested) await continueAsNew<BulkReplay>(input);
    }
  } catch (err) {
    if (!isCancellation(err)) throw err;
    await CancellationScope.nonCancellable(() => bulk.finishBulkReplay({ bulkId: input.bulkId, state: 'cancelled' }));
    throw err;
  }
  await bulk.finishBulkReplay({ bulkId: input.bulkId, state: 'completed' });
  return { bulkId: input.bulkId, state: 'completed' };
}
