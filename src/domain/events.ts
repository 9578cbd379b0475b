/**
 * The event side of the kernel: an event's status, steps, usage and the failure types that end it.
 * Pure types and constants (workflow code imports them), so nothing here may import anything.
 */

export type EventStatus = 'queued' | 'accepted' | 'processing' | 'completed' | 'failed';

/** One step of an event, as the status API lists it. */
export interface EventStep {
  kind: 'model' | 'tool';
  name: string;
  status: 'completed' | 'failed';
  duration_ms: number;
  /** A send_webhook delivery: where, how many bytes, and the sha256 of the body sent (never the body). */
  endpoint?: string;
  bytes?: number;
  sha256?: string;
}

/** What an event consumed: what its charge prices. */
export interface Usage {
  promptTokens: number;
  completionTokens: number;
  runtimeMs: number;
  model?: string;
  modelTurns?: number;
  toolCalls?: number;
  /** A batch run: how many events it ran (its one charge counts for each in reports). */
  events?: number;
}

/** Nothing consumed: a failed attempt reports this, so it is not charged. */
export const ZERO_USAGE: Readonly<Usage> = Object.freeze({ promptTokens: 0, completionTokens: 0, runtimeMs: 0, modelTurns: 0, toolCalls: 0 });

/** How the employee's part of an event ended. */
export interface EmployeeOutcome {
  runtime: 'openai' | 'inbox';
  /** The attempt that delivered the event (1 when it succeeded at once). */
  attempts?: number;
  reply?: string;
  usage: Usage;
  /** The failure type, when the event failed: its text still enters memory, so memory moves on whatever the outcome. */
  failed?: string;
}

/** Failure types: stable strings that survive minification and cross process boundaries. */
export const EMPLOYEE_NOT_FOUND = 'EMPLOYEE_NOT_FOUND';
export const MODEL_REJECTED = 'MODEL_REJECTED';
export const MODEL_RATE_LIMITED = 'MODEL_RATE_LIMITED';
export const MODEL_UNAVAILABLE = 'MODEL_UNAVAILABLE';
export const MODEL_NOT_CONFIGURED = 'MODEL_NOT_CONFIGURED';
/** The event's limits (per employee, with defaults): each ends the event with its own type. */
export const STEP_LIMIT = 'STEP_LIMIT';
export const EVENT_DEADLINE = 'EVENT_DEADLINE';
export const CREDIT_CAP = 'CREDIT_CAP';
/** A webhook delivery that still failed after its retries (5xx, 429, timeouts): reported to the model. */
export const WEBHOOK_DELIVERY_FAILED = 'WEBHOOK_DELIVERY_FAILED';
/** The event was cancelled from outside (an operator, or a reset): its reservation is released. */
export const EVENT_CANCELLED = 'EVENT_CANCELLED';
/** A failure without a type of its own (a bug, an unexpected error). */
export const EVENT_FAILED = 'EVENT_FAILED';

/**
 * The exact text the employee receives (product contract):
 * `[Webhook: order.completed] <payload>`, or `[Webhook] <payload>` without an event label.
 */
export function formatWebhookMessage(payload: string, event?: string): string {
  return event ? `[Webhook: ${event}] ${payload}` : `[Webhook] ${payload}`;
}
