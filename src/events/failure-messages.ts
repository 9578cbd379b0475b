import {
  CREDIT_CAP,
  EMPLOYEE_NOT_FOUND,
  EVENT_CANCELLED,
  EVENT_DEADLINE,
  EVENT_FAILED,
  MODEL_NOT_CONFIGURED,
  MODEL_RATE_LIMITED,
  MODEL_REJECTED,
  MODEL_UNAVAILABLE,
  STEP_LIMIT,
  WEBHOOK_DELIVERY_FAILED,
} from '../domain/events';

/**
 * What a tenant is told about a failed event: a message per failure type that we wrote. A model
 * provider's or a receiver's own text (which may echo the prompt, a key, or anything) stays in the
 * logs and, encrypted, in Temporal, for operators.
 */
const MESSAGES: Record<string, string> = {
  [MODEL_REJECTED]: 'The model server refused the request (a 4xx answer other than 408 or 429); it was not retried. Check the employee’s model and limits.',
  [MODEL_UNAVAILABLE]: 'The model server could not be reached or kept failing, through every retry.',
  [MODEL_RATE_LIMITED]: 'The model server kept answering 429 (rate limited), through every retry.',
  [MODEL_NOT_CONFIGURED]: 'No model server is configured for this service.',
  [EMPLOYEE_NOT_FOUND]: 'The employee was deleted before the event ran.',
  [WEBHOOK_DELIVERY_FAILED]: 'An outbound webhook delivery kept failing, through every retry.',
  [EVENT_FAILED]: 'The event failed for an internal reason; operators can see the details in its trace.',
};

/** Failure types whose message we write ourselves in the workflow (the limit and its value): shown as they are. */
const OWN_TEXT = new Set([STEP_LIMIT, EVENT_DEADLINE, CREDIT_CAP, EVENT_CANCELLED]);

/** The message the status API and the console show for a failure of `type`; `recorded` is the workflow's own message. */
export function tenantFailureMessage(type: string | null | undefined, recorded: string): string {
  if (type && OWN_TEXT.has(type)) return recorded;
  return (type && MESSAGES[type]) ?? MESSAGES[EVENT_FAILED];
}
