import {
  type ActivityOptions,
  type LocalActivityOptions,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertMemo,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  EMPLOYEE_NOT_FOUND,
  EVENT_STATUS,
  MODEL_REJECTED,
  statusQuery,
  type EventMemo,
  type EventStep,
  type ChargeResult,
  type EmployeeOutcome,
  type EventStatus,
  type SettleOutcome,
  type Usage,
  type WebhookEventInput,
  type WebhookEventResult,
} from './contract';
import { runAgent } from './agent-loop';

/**
 * Since this patch the event settles (charge what it cost, release what the API reserved at ingest),
 * also when it fails. Histories recorded before it charged with chargeCredits on success only, and
 * replay that way.
 */
export const SETTLE_CREDITS_PATCH = 'settle-credits';

/**
 * Since this patch the settlement writes the charge into the memo (`settled`, `charge`), so
 * reconcile finds it in a visibility listing instead of parsing local-activity markers.
 */
export const CHARGE_IN_MEMO_PATCH = 'charge-in-memo';

/**
 * Since this patch the employee acts in the agent loop (agent-loop.ts): model turns and tool calls,
 * each an activity, within the event's limits. Histories recorded before it made one
 * driveEmployee call and replay that way.
 */
export const AGENT_LOOP_PATCH = 'agent-loop';

/** What a failed event consumed: a failed attempt reports no usage, so nothing is charged. */
const NOTHING_USED: Usage = { promptTokens: 0, completionTokens: 0, runtimeMs: 0 };

/** Formatting and charging are short CPU-or-database steps: local activities skip a task-queue round trip. */
const LOCAL_OPTIONS: LocalActivityOptions = {
  startToCloseTimeout: '10s',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '10s' },
};

/**
 * The employee may wait on a model for a minute; it heartbeats every second, so a dead worker is
 * noticed within the heartbeat timeout. Retries go on with backoff until the model is back, except
 * for permanent failures.
 */
const EMPLOYEE_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '5m',
  heartbeatTimeout: '5s',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '1m',
    nonRetryableErrorTypes: [EMPLOYEE_NOT_FOUND, MODEL_REJECTED],
  },
};

const local = proxyLocalActivities<Activities>(LOCAL_OPTIONS);
const employee = proxyActivities<Activities>(EMPLOYEE_OPTIONS);

/** One webhook event: format it, hand it to the employee, settle its credits exactly once. */
export async function processWebhookEvent(input: WebhookEventInput): Promise<WebhookEventResult> {
  const result: WebhookEventResult = { messageId: input.messageId, status: 'accepted' };
  setHandler(statusQuery, () => result);
  const setStatus = (status: EventStatus) => {
    result.status = status;
    upsertSearchAttributes([{ key: EVENT_STATUS, value: status }]);
  };
  // "Current details" in the Temporal UI: what happened so far, one line a step, like a log.
  const trail: string[] = [];
  const note = (line: string) => {
    trail.push(line);
    setCurrentDetails(trail.join('\n'));
  };

  let failure: ApplicationFailure | undefined;
  let delivered = false;
  // The agent loop's usage up to a failure: its completed model turns are charged, failed attempts not.
  let spentBeforeFailure: Usage | undefined;
  try {
    setStatus('processing');
    const message = await local.formatMessage.executeWithOptions({ ...LOCAL_OPTIONS, summary: 'format message' }, [
      { payload: input.payload, event: input.event },
    ]);
    note(`formatted: ${message.length > 120 ? `${message.slice(0, 119)}…` : message}`);
    let outcome: EmployeeOutcome;
    if (patched(AGENT_LOOP_PATCH)) {
      result.steps = [];
      const end = await runAgent(input, message, { steps: result.steps, note });
      if (!end.ok) {
        spentBeforeFailure = end.spent;
        throw end.failure;
      }
      outcome = end.outcome;
    } else {
      outcome = await employee.driveEmployee.executeWithOptions({ ...EMPLOYEE_OPTIONS, summary: `deliver to employee ${input.employeeId}` }, [
        { employeeId: input.employeeId, messageId: input.messageId, message },
      ]);
      note(describeDelivery(outcome));
    }
    delivered = true;
    result.attempts = outcome.attempts;
    result.charge = patched(SETTLE_CREDITS_PATCH) ? await settle(input, outcome.usage, 'completed') : await charge(input, outcome.usage);
    note(`charged ${result.charge.credits} credits (${result.charge.tokenCredits} token, ${result.charge.runtimeCredits} runtime)`);
    setStatus('completed');
  } catch (err) {
    failure = asApplicationFailure(err, result.steps);
    result.error = { type: failure.type ?? undefined, message: failure.message };
    result.failedAt = new Date().toISOString();
    // The employee failed: charge the model turns that completed (none before the agent loop), release
    // the reservation. (When the settlement itself failed — it retries without limit, so only on
    // cancellation — there is nothing to add.)
    if (!delivered && patched(SETTLE_CREDITS_PATCH)) result.charge = await settle(input, spentBeforeFailure ?? NOTHING_USED, 'failed');
    note(`failed: ${failure.type ?? 'error'}: ${failure.message}`);
    setStatus('failed');
  }

  // Within the Idempotency-Key window the workflow stays open, so Temporal refuses a repeat start
  // even if Redis has forgotten the key.
  if (input.dedupUntil !== undefined && input.dedupUntil > Date.now()) {
    await sleep(input.dedupUntil - Date.now());
  }
  if (failure) throw failure;
  return result;
}

function describeDelivery(outcome: EmployeeOutcome): string {
  const attempt = outcome.attempts && outcome.attempts > 1 ? ` after ${outcome.attempts} attempts` : '';
  if (outcome.runtime === 'inbox') return `delivered to the employee's inbox${attempt}`;
  const { promptTokens, completionTokens, model } = outcome.usage;
  return `asked model ${model ?? '?'}: ${promptTokens} + ${completionTokens} tokens${attempt}`;
}

/** Not cancellable: a cancelled event must still give back what the API reserved for it. */
async function settle(input: WebhookEventInput, usage: Usage, outcome: SettleOutcome): Promise<ChargeResult> {
  const charge = await CancellationScope.nonCancellable(() =>
    local.settleCredits.executeWithOptions({ ...LOCAL_OPTIONS, summary: outcome === 'completed' ? 'settle credits' : 'release reserved credits' }, [
      { accountId: input.accountId, messageId: input.messageId, employeeId: input.employeeId, event: input.event, usage, outcome },
    ]),
  );
  if (patched(CHARGE_IN_MEMO_PATCH)) {
    const settled: Pick<EventMemo, 'settled' | 'charge'> = { settled: true, charge: charge.posting ?? null };
    upsertMemo(settled);
  }
  return charge;
}

/** Before SETTLE_CREDITS_PATCH: kept so that older histories replay. */
function charge(input: WebhookEventInput, usage: Usage): Promise<ChargeResult> {
  return local.chargeCredits.executeWithOptions({ ...LOCAL_OPTIONS, summary: 'charge credits' }, [
    { accountId: input.accountId, messageId: input.messageId, employeeId: input.employeeId, event: input.event, usage },
  ]);
}

/**
 * Workflows fail only with ApplicationFailure; an activity's failure keeps its type for callers, and
 * its cause chain. Since the agent loop the failure also carries the event's steps in its details,
 * where the status API reads them once the workflow has closed.
 */
function asApplicationFailure(err: unknown, steps?: EventStep[]): ApplicationFailure {
  const details = steps ? [{ steps }] : undefined;
  if (err instanceof ApplicationFailure) {
    if (!details) return err;
    return ApplicationFailure.create({ type: err.type ?? undefined, message: err.message, nonRetryable: true, details, cause: err.cause });
  }
  const cause = err instanceof ActivityFailure ? err.cause : undefined;
  const type = cause instanceof ApplicationFailure ? cause.type : undefined;
  return ApplicationFailure.create({
    type: type ?? 'EVENT_FAILED',
    message: cause?.message ?? (err as Error).message,
    nonRetryable: true,
    details,
    cause: err instanceof Error ? err : undefined,
  });
}
