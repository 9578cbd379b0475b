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
  /** Model turns and tool calls of the event (events since the agent loop). */
  modelTurns?: number;
  toolCalls?: number;
  /** A top-up's reference chosen by the caller (an invoice number): the same reference adds once. */
  reference?: string;
}
