import { ActivityFailure, ApplicationFailure, isCancellation } from '@temporalio/workflow';
import { EVENT_CANCELLED, EVENT_FAILED } from '../src/domain/events';
import type { EventFailureDetails } from './contract';

/**
 * The one way an event's failure is shaped: workflows fail only with a non-retryable
 * ApplicationFailure whose type is the activity's own (MODEL_REJECTED, EMPLOYEE_NOT_FOUND, …) or
 * EVENT_FAILED, with the original error as its cause and, when given, the event's steps as details.
 * A cancellation of the whole event becomes EVENT_CANCELLED (its caller settles, then ends the
 * workflow as cancelled).
 */
export function toEventFailure(err: unknown, details?: EventFailureDetails): ApplicationFailure {
  if (isCancellation(err))
    return ApplicationFailure.create({
      type: EVENT_CANCELLED,
      message: 'The event was cancelled.',
      nonRetryable: true,
      details: details ? [details] : undefined,
    });
  const own = err instanceof ApplicationFailure ? err : undefined;
  // An activity's failure: its cause says what happened (an ApplicationFailure with a type, or a timeout).
  const cause = err instanceof ActivityFailure ? err.cause : undefined;
  if (own && !details && own.nonRetryable) return own;
  return ApplicationFailure.create({
    type: own?.type ?? (cause instanceof ApplicationFailure ? cause.type : undefined) ?? EVENT_FAILED,
    message: (own ?? cause ?? (err instanceof Error ? err : undefined))?.message ?? String(err),
    nonRetryable: true,
    details: details ? [details] : undefined,
    cause: own ? own.cause : err instanceof Error ? err : undefined,
  });
}
