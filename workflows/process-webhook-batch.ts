import { CancellationScope, proxyLocalActivities, type ApplicationFailure } from '@temporalio/workflow';
import { formatWebhookMessage, ZERO_USAGE } from '../src/domain/events';
import { trackEvent } from './event-progress';
import { runAgent, DATABASE_STEP } from './agent-loop';
import type { EventActivities, WebhookBatchInput, WebhookEventResult } from './contract';
import { toEventFailure } from './failures';
import { settle } from './process-webhook-event';

const database = proxyLocalActivities<EventActivities>(DATABASE_STEP);

/**
 * Batch mode: several events of one employee as one agent run, under the first event's workflow id
 * and memo. The message lists every event in acceptance order, one line each in the seed's format.
 * Each message records the batch it ran in; the run is charged once, against the first message;
 * the other messages' reservations are released. Their status follows this run's.
 */
export async function processWebhookBatch(input: WebhookBatchInput): Promise<WebhookEventResult> {
  const first = input.events[0];
  const { result, steps, setStatus, note } = trackEvent(first.messageId);

  setStatus('processing');
  const messageIds = input.events.map((e) => e.messageId);
  await database.linkBatch.executeWithOptions({ ...DATABASE_STEP, summary: `link ${messageIds.length} messages to the batch` }, [
    { accountId: first.accountId, batchOf: first.messageId, messageIds },
  ]);
  const message = input.events.map((e) => formatWebhookMessage(e.payload, e.event)).join('\n');
  note(`batch of ${input.events.length} events: ${messageIds.join(', ')}`);
  const end = await runAgent(first, message, { steps, note });
  // The other messages ran in this run: nothing of theirs is charged, their reservations go back.
  await CancellationScope.nonCancellable(() =>
    Promise.all(
      input.events
        .slice(1)
        .map((e) =>
          database.settleCredits.executeWithOptions({ ...DATABASE_STEP, summary: 'release a batched reservation' }, [
            { accountId: e.accountId, messageId: e.messageId, employeeId: e.employeeId, event: e.event, usage: { ...ZERO_USAGE }, outcome: 'batched' },
          ]),
        ),
    ),
  );
  let failure: ApplicationFailure | undefined;
  if (end.ok) {
    result.attempts = end.outcome.attempts;
    // One charge for the run, counted in reports as every event it ran (the credits once).
    result.charge = await settle(first, { ...end.outcome.usage, events: input.events.length }, 'completed');
    note(`charged ${result.charge.credits} credits for the batch`);
    setStatus('completed');
  } else {
    failure = toEventFailure(end.failure, { steps });
    result.error = { type: failure.type ?? undefined, message: failure.message };
    result.failedAt = new Date().toISOString();
    result.charge = await settle(first, { ...end.spent, events: input.events.length }, 'failed');
    note(`failed: ${failure.type ?? 'error'}: ${failure.message}`);
    setStatus('failed');
    if (end.cancellation) throw end.cancellation as Error;
    throw failure;
  }
  return result;
}
