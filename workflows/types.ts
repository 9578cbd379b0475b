/**
 * Names and shapes shared by the workflow, its activities and the API.
 * Kept free of imports so the workflow bundle stays small and deterministic.
 */

/** An Idempotency-Key is a duplicate within this long after its first acceptance (product contract). */
export const IDEMPOTENCY_WINDOW_MS = 5 * 60 * 1000;

export const WORKFLOW_TYPE = 'processWebhookEvent';

/** Failure types: stable strings that survive minification and cross process boundaries. */
export const EMPLOYEE_NOT_FOUND = 'EMPLOYEE_NOT_FOUND';
export const MODEL_REJECTED = 'MODEL_REJECTED';
export const MODEL_RATE_LIMITED = 'MODEL_RATE_LIMITED';
export const MODEL_UNAVAILABLE = 'MODEL_UNAVAILABLE';

export type EventStatus = 'accepted' | 'processing' | 'completed' | 'failed';

/** What the API hands to Temporal for one accepted event. */
export interface WebhookEventInput {
  messageId: string;
  accountId: string;
  employeeId: string;
  event?: string;
  payload: string;
  /** Present when the caller sent an Idempotency-Key: the workflow then holds the dedup window open. */
  idempotencyKey?: string;
  requestId: string;
  /** Milliseconds since epoch when the API accepted the event. */
  receivedAt: number;
  /** With an Idempotency-Key: the workflow stays open until then, so Temporal refuses a repeat start. */
  dedupUntil?: number;
}

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  runtimeMs: number;
  model?: string;
}

export interface EmployeeOutcome {
  runtime: 'openai' | 'inbox';
  /** The activity attempt that delivered the event (1 when it succeeded at once). */
  attempts?: number;
  reply?: string;
  usage: Usage;
}

export interface ChargeResult {
  messageId: string;
  credits: number;
  tokenCredits: number;
  runtimeCredits: number;
  balance: number;
  /** False when this posting already existed (a retry or a re-run of the same event). */
  posted: boolean;
}

export interface WebhookEventResult {
  messageId: string;
  status: EventStatus;
  /** Attempts the employee step took (1 when it succeeded at once). */
  attempts?: number;
  charge?: ChargeResult;
  error?: { type?: string; message: string };
}
