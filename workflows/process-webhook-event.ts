import { CancellationScope, patched, proxyLocalActivities, sleep, upsertMemo, type ApplicationFailure } from '@temporalio/workflow';
import type { ChargeResult, SettleOutcome } from '../src/domain/billing';
import { EMPLOYEE_NOT_FOUND, formatWebhookMessage, type Usage } from '../src/domain/events';
import { trackEvent } from './event-progress';
import { runAgent, DATABASE_STEP } from './agent-loop';
import type { EventActivities, SettledMemo, WebhookEventInput, WebhookEventResult } from './contract';
import { toEventFailure } from './failures';

const database = proxyLocalActivities<EventActivities>(DATABASE_STEP);

/** Since this patch a failed event is recorded in the employee's memory too (v3 fixtures); v1 and v2 histories did not. */
export const MEMORY_ON_FAILURE_PATCH = 'memory-on-failure';

/** The Temporal UI's "current details" shows the formatted message up to this length. */
const DETAIL_LINE = 120;

/**
 * One webhook event: format it, let the employee act on it (the agent loop), settle its credits
 * exactly once — also when it fails — and end. Its status is answered by `statusQuery`, mirrored in
 * the EventStatus search attribute, and its steps are written as "current details" for operators.
 */
export async function processWebhookEvent(input: WebhookEventInput): Promise<WebhookEventResult> {
  const { result, steps, setStatus, note } = trackEvent(input.messageId);

  let failure: ApplicationFailure | undefined;
  setStatus('processing');
  const message = formatWebhookMessage(input.payload, input.event);
  note(`formatted: ${message.length > DETAIL_LINE ? `${message.slice(0, DETAIL_LINE - 1)}…` : message}`);
  const end = await runAgent(input, message, { steps, note });
  if (end.ok) {
    result.attempts = end.outcome.attempts;
    result.charge = await settle(input, end.outcome.usage, 'completed');
    note(`charged ${result.charge.credits} credits (${result.charge.tokenCredits} token, ${result.charge.runtimeCredits} runtime)`);
    setStatus('completed');
  } else {
    failure = toEventFailure(end.failure, { steps });
    result.error = { type: failure.type ?? undefined, message: failure.message };
    result.failedAt = new Date().toISOString();
    // The event enters the employee's memory whatever its outcome, so memory moves on (a run of
    // failing events cannot pin old turns in place). Not for an employee that no longer exists, nor
    // for a cancelled event: its scope is cancelled, and only the settlement below may still run.
    if (!end.cancellation && failure.type !== EMPLOYEE_NOT_FOUND && patched(MEMORY_ON_FAILURE_PATCH)) {
      await database.recordOutcome.executeWithOptions({ ...DATABASE_STEP, summary: 'record the failed event' }, [
        {
          employeeId: input.employeeId,
          messageId: input.messageId,
          message,
          outcome: { runtime: end.spent.model ? 'openai' : 'inbox', usage: end.spent, failed: failure.type ?? undefined },
        },
      ]);
    }
    // The model turns that completed are charged; the rest of the reservation is released.
    result.charge = await settle(input, end.spent, 'failed');
    note(`failed: ${failure.type ?? 'error'}: ${failure.message}`);
    setStatus('failed');
    // The SDK's CancelledFailure, as it arrived: the run then shows as cancelled, not failed.
    if (end.cancellation) throw end.cancellation as Error;
  }

  // Histories of APIs that held the Idempotency-Key window with the workflow: it stayed open until the
  // window ended. Events accepted since the window moved to PostgreSQL carry no dedupUntil.
  if (input.dedupUntil !== undefined && input.dedupUntil > Date.now()) {
    await sleep(input.dedupUntil - Date.now());
  }
  if (failure) throw failure;
  return result;
}

/**
 * Not cancellable: a cancelled event must still give back what the API reserved for it. The charge
 * goes into the memo, where reconcile finds it in a visibility listing.
 */
export async function settle(input: WebhookEventInput, usage: Usage, outcome: SettleOutcome): Promise<ChargeResult> {
  const charge = await CancellationScope.nonCancellable(() =>
    database.settleCredits.executeWithOptions({ ...DATABASE_STEP, summary: outcome === 'completed' ? 'settle credits' : 'release reserved credits' }, [
      { accountId: input.accountId, messageId: input.messageId, employeeId: input.employeeId, event: input.event, usage, outcome },
    ]),
  );
  const settled: SettledMemo = { settled: true, charge: charge.posting ?? null };
  upsertMemo(settled);
  return charge;
}
