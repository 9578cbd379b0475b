/**
 * The money side of the kernel: what the ledger holds and what a settlement returns. Pure types,
 * shared by workflows, activities, stores and billing (this folder imports nothing).
 */

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
  /** Set on a charge that `billing reconcile --repair` restored from the workflow's memo. */
  repairedAt?: string;
  /** Model turns and tool calls of the event. */
  modelTurns?: number;
  toolCalls?: number;
  /** A batch run's charge: how many messages it ran (reports count each as an event). Absent: one. */
  events?: number;
  /** A top-up's reference chosen by the caller (an invoice number): the same reference adds once. */
  reference?: string;
}

/** How an event ended, for its settlement: a failed event is charged only for what it consumed. */
/** `batched`: the event ran in a batch whose charge is posted against the batch's first message. */
export type SettleOutcome = 'completed' | 'failed' | 'batched';

/** What one settlement did. */
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

/** What one reconcile over every account found and did (a row of reconcile_runs). */
export interface ReconcileSummary {
  runId: string;
  trigger: 'schedule' | 'manual';
  startedAt: string;
  finishedAt: string;
  accounts: number;
  workflows: number;
  missing: number;
  repaired: number;
  staleReleased: number;
  mismatched: number;
  ok: boolean;
}
