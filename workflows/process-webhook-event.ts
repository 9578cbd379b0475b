import {
  type ActivityOptions,
  type LocalActivityOptions,
  ActivityFailure,
  ApplicationFailure,
  defineQuery,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  sleep,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { EVENT_STATUS } from './search-attributes';
import {
  EMPLOYEE_NOT_FOUND,
  MODEL_REJECTED,
  type ChargeResult,
  type EventStatus,
  type WebhookEventInput,
  type WebhookEventResult,
} from './types';

export const statusQuery = defineQuery<WebhookEventResult>('status');

/** Formatting and charging are short Redis-or-CPU steps: local activities skip a task-queue round trip. */
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

/** One webhook event: format it, hand it to the employee, charge its credits exactly once. */
export async function processWebhookEvent(input: WebhookEventInput): Promise<WebhookEventResult> {
  const result: WebhookEventResult = { messageId: input.messageId, status: 'accepted' };
  setHandler(statusQuery, () => result);
  const setStatus = (status: EventStatus) => {
    result.status = status;
    upsertSearchAttributes([{ key: EVENT_STATUS, value: status }]);
  };

  let failure: ApplicationFailure | undefined;
  try {
    setStatus('processing');
    const message = await local.formatMessage.executeWithOptions(
      { ...LOCAL_OPTIONS, summary: 'format message' },
      [{ payload: input.payload, event: input.event }],
    );
    const outcome = await employee.driveEmployee.executeWithOptions(
      { ...EMPLOYEE_OPTIONS, summary: `deliver to employee ${input.employeeId}` },
      [{ employeeId: input.employeeId, messageId: input.messageId, message }],
    );
    result.attempts = outcome.attempts;
    result.charge = await charge(input, outcome.usage);
    setStatus('completed');
  } catch (err) {
    failure = asApplicationFailure(err);
    result.error = { type: failure.type ?? undefined, message: failure.message };
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

function charge(input: WebhookEventInput, usage: Parameters<Activities['chargeCredits']>[0]['usage']): Promise<ChargeResult> {
  return local.chargeCredits.executeWithOptions(
    { ...LOCAL_OPTIONS, summary: 'charge credits' },
    [{ accountId: input.accountId, messageId: input.messageId, employeeId: input.employeeId, event: input.event, usage }],
  );
}

/** Workflows fail only with ApplicationFailure; an activity's failure keeps its type for callers. */
function asApplicationFailure(err: unknown): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  const cause = err instanceof ActivityFailure ? err.cause : undefined;
  const type = cause instanceof ApplicationFailure ? cause.type : undefined;
  return ApplicationFailure.create({
    type: type ?? 'EVENT_FAILED',
    message: cause?.message ?? (err as Error).message,
    nonRetryable: true,
    cause: err instanceof Error ? err : undefined,
  });
}
