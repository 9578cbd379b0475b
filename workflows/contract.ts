/**
 * The Temporal contract of an event, shared by the API (client), the worker, the CLI, the tests and
 * the dev stack: queries, search-attribute keys, failure types, and the shapes that cross the
 * workflow boundary. The workflow functions themselves are started by reference
 * (`client.workflow.start(processWebhookEvent, …)`), so their arguments are type-checked.
 * Only `@temporalio/workflow` and type-only imports here: this file is part of the workflow bundle.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery } from '@temporalio/workflow';
import type { Posting } from '../src/billing/types';

/** The event workflow's live account of itself, answered while it runs. */
export const statusQuery = defineQuery<WebhookEventResult>('status');

/**
 * Custom search attributes on every event workflow, so operators can filter in the Temporal UI:
 * `EmployeeId="…" AND EventStatus="failed"`. Registered at launch by the dev stack, and once per
 * namespace (`temporal operator search-attribute create`) on a production cluster; the compose
 * file's list is checked against this one by a test.
 */
export const ACCOUNT_ID = defineSearchAttributeKey('AccountId', SearchAttributeType.KEYWORD);
export const EMPLOYEE_ID = defineSearchAttributeKey('EmployeeId', SearchAttributeType.KEYWORD);
export const EVENT_TYPE = defineSearchAttributeKey('EventType', SearchAttributeType.KEYWORD);
export const EVENT_STATUS = defineSearchAttributeKey('EventStatus', SearchAttributeType.KEYWORD);
export const SEARCH_ATTRIBUTES = [ACCOUNT_ID, EMPLOYEE_ID, EVENT_TYPE, EVENT_STATUS] as const;
/** `Name=Keyword`, as `temporal server start-dev --search-attribute` takes them (every one is a Keyword). */
export const SEARCH_ATTRIBUTE_SPECS = SEARCH_ATTRIBUTES.map((key) => `${key.name}=Keyword`);

/** The Schedule that reconciles every account's ledger with Temporal's histories. */
export const RECONCILE_SCHEDULE_ID = 'billing-reconcile';

/** Failure types: stable strings that survive minification and cross process boundaries. */
export const EMPLOYEE_NOT_FOUND = 'EMPLOYEE_NOT_FOUND';
export const MODEL_REJECTED = 'MODEL_REJECTED';
export const MODEL_RATE_LIMITED = 'MODEL_RATE_LIMITED';
export const MODEL_UNAVAILABLE = 'MODEL_UNAVAILABLE';
/** The event's limits (per employee, with defaults): each ends the event with its own type. */
export const STEP_LIMIT = 'STEP_LIMIT';
export const EVENT_DEADLINE = 'EVENT_DEADLINE';
export const CREDIT_CAP = 'CREDIT_CAP';
/** A webhook delivery that still failed after its retries (5xx, 429, timeouts): reported to the model. */
export const WEBHOOK_DELIVERY_FAILED = 'WEBHOOK_DELIVERY_FAILED';

/** The tools an operator can turn on for an employee; the model sees only those. */
export const TOOL_NAMES = ['send_webhook', 'remember', 'reply'] as const;
export type ToolName = (typeof TOOL_NAMES)[number];

/** What bounds one event; every field is resolved (employee's own value, else the service default). */
export interface AgentLimits {
  /** Model turns per event. */
  maxSteps: number;
  /** max_tokens of each model call. */
  maxTokens: number;
  /** The whole event, from its acceptance. */
  deadlineMs: number;
  /** Credits one event may spend (its tokens and runtime priced as its charge will be). */
  maxCredits: number;
}

/** A Chat Completions tool call, as the model proposes it. */
export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** A Chat Completions message as the loop keeps the conversation. */
export type ChatMessage =
  | { role: 'system' | 'user'; content: string }
  | { role: 'assistant'; content: string | null; tool_calls?: ToolCall[] }
  | { role: 'tool'; tool_call_id: string; content: string };

/** A tool as the model is told of it (Chat Completions `tools`). */
export interface ToolSpec {
  type: 'function';
  function: { name: ToolName; description: string; parameters: Record<string, unknown> };
}

/** Everything the loop needs, read once at the start of the event. `model` undefined: no model server, inbox delivery. */
export interface AgentSetup {
  model?: string;
  limits: AgentLimits;
  tools: ToolSpec[];
  /** System prompt (instructions and notes), memory, then the event. */
  messages: ChatMessage[];
}

export interface ModelTurnInput {
  employeeId: string;
  messageId: string;
  turn: number;
  model: string;
  maxTokens: number;
  messages: ChatMessage[];
  tools: ToolSpec[];
  /** What the event consumed before this turn: the turn prices the total as the charge will. */
  spent: Usage;
}

export interface ModelTurnResult {
  message: Extract<ChatMessage, { role: 'assistant' }>;
  /** This turn's tokens and runtime. */
  usage: Usage;
  /** The event's credits so far, this turn included. */
  creditsAfter: number;
}

export interface ToolCallInput {
  employeeId: string;
  messageId: string;
  call: ToolCall;
  /** Chosen by the workflow once per call: the webhook-id of every delivery attempt of this call. */
  deliveryId: string;
}

export interface ToolCallResult {
  /** What goes back to the model as the `role: "tool"` message. */
  content: string;
  ok: boolean;
  runtimeMs: number;
}

/** One step of an event, as the status API lists it. */
export interface EventStep {
  kind: 'model' | 'tool';
  name: string;
  status: 'completed' | 'failed';
  duration_ms: number;
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

/**
 * The event workflow's memo: what the API wrote at the start, and what the settlement adds (since
 * CHARGE_IN_MEMO_PATCH), so reconcile reads every charge from one visibility listing.
 */
export interface EventMemo {
  messageId: string;
  employeeId: string;
  requestId: string;
  idempotencyKey: string | null;
  receivedAt: string;
  dedupUntil: number | null;
  /** True once the event settled; `charge` is then its charge posting, or null when it was not charged. */
  settled?: boolean;
  charge?: Posting | null;
}

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  runtimeMs: number;
  model?: string;
  /** Model turns and tool calls the event made (events since the agent loop). */
  modelTurns?: number;
  toolCalls?: number;
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
  /** Each model turn and tool call, in order (events since the agent loop). */
  steps?: EventStep[];
}
