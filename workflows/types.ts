/**
 * Names and shapes shared by the workflow, its activities and the API.
 * Kept free of imports so the workflow bundle stays small and deterministic.
 */

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

/** The price an event was charged at, stored on its posting so a later price change rewrites nothing. */
export interface PriceUsed {
  /** The price list entry used: a configured model name, or "default". */
  model: string;
  promptPer1k: number;
  completionPer1k: number;
  runtimePerSecond: number;
}

export type PostingKind = 'topup' | 'reserve' | 'charge' | 'release';

/**
 * One line of an account's append-only ledger. `credits` moves the balance (top-ups add, charges
 * subtract); `reserved` moves the amount held for events in flight (reserve adds, release subtracts).
 * A `charge` is an event's settlement: what it actually cost.
 */
export interface Posting {
  id: string;
  kind: PostingKind;
  at: string;
  credits: number;
  reserved?: number;
  messageId?: string;
  employeeId?: string;
  event?: string;
  workflowId?: string;
  tokensIn?: number;
  tokensOut?: number;
  runtimeMs?: number;
  tokenCredits?: number;
  runtimeCredits?: number;
  price?: PriceUsed;
  /** The model the server reported, when there was one. */
  model?: string;
  /** Why a reservation was released: the event settled, failed, never started, or met a duplicate. */
  reason?: string;
  /** Set on a charge that `billing reconcile --repair` restored from the workflow's history. */
  repairedAt?: string;
}

export interface ChargeResult {
  messageId: string;
  credits: number;
  tokenCredits: number;
  runtimeCredits: number;
  balance: number;
  /** False when this posting already existed (a retry or a re-run of the same event). */
  posted: boolean;
  /** The charge posting as the ledger holds it: what `billing reconcile --repair` restores if it goes missing. */
  posting?: Posting;
  /** True when this settlement released the event's reservation (false: none held, or released already). */
  released?: boolean;
}

/** How an event ended, for its settlement: a failed event is charged only for what it consumed. */
export type SettleOutcome = 'completed' | 'failed';

export interface WebhookEventResult {
  messageId: string;
  status: EventStatus;
  /** Attempts the employee step took (1 when it succeeded at once). */
  attempts?: number;
  charge?: ChargeResult;
  error?: { type?: string; message: string };
  /** When the event failed (ISO time): a keyed event's workflow closes only when its window ends. */
  failedAt?: string;
}
