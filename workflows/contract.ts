/**
 * The Temporal contract of an event, shared by the API (client), the worker, the CLI, the tests and
 * the dev stacks: workflow and activity names and signatures, the query, search-attribute keys, and
 * the shapes that cross the workflow boundary (input, result, memo, failure details). Clients start
 * workflows by the names and signatures here, never by importing workflow code, and workflows type
 * their activity proxies from the interfaces here, never from `activities/`.
 * Part of the workflow bundle: only `@temporalio/*` and the kernel (`src/domain/`) are imported.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { AgentLimits, AssistantMessage, ChatMessage, ToolCall, ToolSpec } from '../src/domain/agent';
import type { ChargeResult, Posting, ReconcileSummary, SettleOutcome } from '../src/domain/billing';
import type { EmployeeOutcome, EventStatus, EventStep, Usage } from '../src/domain/events';

/** Workflow type names, as Temporal (and its visibility queries) know them. */
export const EVENT_WORKFLOW = 'processWebhookEvent';
export const RECONCILE_WORKFLOW = 'reconcileBilling';
export type ProcessWebhookEvent = (input: WebhookEventInput) => Promise<WebhookEventResult>;
export type ReconcileBilling = () => Promise<ReconcileSummary>;
/** One per confirmed bulk replay (`bulk_…`): works through the bulk's items, paced by the account's rate limit. */
export const BULK_REPLAY_WORKFLOW = 'bulkReplay';
export type BulkReplay = (input: BulkReplayInput) => Promise<BulkReplayResult>;
/** Batch mode: one agent run for several events of one employee, as a child of its queue workflow. */
export const EVENT_BATCH_WORKFLOW = 'processWebhookBatch';
export type ProcessWebhookBatch = (input: WebhookBatchInput) => Promise<WebhookEventResult>;
/** One per employee in ordered mode: takes its events by signal and runs each as a child `processWebhookEvent`. */
export const EMPLOYEE_QUEUE_WORKFLOW = 'runEmployeeQueue';
export type RunEmployeeQueue = (input: EmployeeQueueInput) => Promise<void>;

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

/** The Schedule that reconciles every account's ledger with the charges recorded in Temporal. */
export const RECONCILE_SCHEDULE_ID = 'billing-reconcile';

/** What the API hands to Temporal for one accepted event. */
export interface WebhookEventInput {
  messageId: string;
  accountId: string;
  employeeId: string;
  event?: string;
  payload: string;
  idempotencyKey?: string;
  requestId: string;
  /** Milliseconds since epoch when the API accepted the event. */
  receivedAt: number;
  /**
   * Set by APIs that held the Idempotency-Key window with the workflow itself: it then stays open
   * until this time (ms since epoch). Kept so such histories replay; events accepted since the
   * window moved to PostgreSQL carry none and close when their work is done.
   */
  dedupUntil?: number;
}

export interface WebhookEventResult {
  messageId: string;
  status: EventStatus;
  /** Attempts the employee step took (1 when it succeeded at once). */
  attempts?: number;
  charge?: ChargeResult;
  error?: { type?: string; message: string };
  /** When the event failed (ISO time). */
  failedAt?: string;
  /** Each model turn and tool call, in order. */
  steps?: EventStep[];
}

/**
 * The event workflow's memo: what the API writes at the start, and what the settlement adds, so
 * reconcile reads every charge from one visibility listing. Read back only through the codec in
 * src/temporal/event-runs.ts.
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

/** What the settlement adds to the memo. */
export type SettledMemo = Required<Pick<EventMemo, 'settled' | 'charge'>>;

/** The details of a failed event's ApplicationFailure: its steps, which the status API shows after it closed. */
export interface EventFailureDetails {
  steps: EventStep[];
}

/** An event handed to an employee's queue workflow: everything its child workflow is started with. */
export interface QueuedEvent {
  input: WebhookEventInput;
  /** The event's own workflow id (its message record names it): the child runs under it. */
  workflowId: string;
  memo: EventMemo;
  summary: string;
  /** The employee's cap when the event was accepted: the head of the queue starts once fewer run. */
  concurrency: number;
  /** Batch mode, as the employee was set when the event was accepted. */
  batch?: BatchSettings;
  /** When the queue workflow received it (workflow time, ms): a batch waits at most maxWaitMs from its first event's. */
  arrivedAt?: number;
}

export interface BatchSettings {
  /** A batch closes once no event arrived for this long… */
  debounceMs: number;
  /** …or this long after its first event arrived… */
  maxWaitMs: number;
  /** …or once it holds this many events. */
  maxBatch: number;
}

/** The events one batch run takes, in acceptance order; the first's message id, workflow id and memo are the run's. */
export interface WebhookBatchInput {
  events: WebhookEventInput[];
}

/** The queue workflow's input: what it carries across continue-as-new. */
export interface EmployeeQueueInput {
  accountId: string;
  employeeId: string;
  /** Events accepted and not yet started, in acceptance (signal) order. */
  queue: QueuedEvent[];
  /** Events one run starts before it continues as new (the history stays small, signals per run bounded). */
  eventsPerRun: number;
}

/** Acceptance order is the order this signal reaches the queue workflow, whichever API sent it. */
export const enqueueSignal = defineSignal<[QueuedEvent]>('enqueue');
/** What the queue workflow holds: message ids waiting, and those whose child runs. */
export const queueQuery = defineQuery<{ queued: string[]; running: string[] }>('queue');

/** Everything the loop needs, read once at the start of the event. `model` undefined: no model server, inbox delivery. */
/**
 * Everything the loop needs, read once at the start of the event. `model` undefined: no model
 * server, inbox delivery. The prompt itself stays in PostgreSQL (event_turns): only its size is here.
 */
export interface AgentSetup {
  model?: string;
  limits: AgentLimits;
  tools: ToolSpec[];
  /** The fitted prompt's estimated tokens (instructions, notes, memory, the event). */
  promptTokens: number;
}

export interface PrepareAgentInput {
  employeeId: string;
  messageId: string;
  message: string;
}

/**
 * A reference to the conversation, not the conversation: the activity reads what was said before
 * `turn` from PostgreSQL, adds `toolResults` (the answers to the previous turn's calls), and writes
 * the model's answer back. The workflow's history grows with the turns, not with the prompt.
 */
export interface ModelTurnInput {
  employeeId: string;
  messageId: string;
  turn: number;
  model: string;
  maxTokens: number;
  /** The event's credit cap: a turn whose prompt alone would pass it is not sent. */
  maxCredits: number;
  tools: ToolSpec[];
  /** The `role: "tool"` results of the previous turn's calls, in the order it asked for them. */
  toolResults: ChatMessage[];
  /** What the event consumed before this turn: the turn prices the total as the charge will. */
  spent: Usage;
}

export interface ModelTurnResult {
  message: AssistantMessage;
  /** This turn's tokens and runtime. */
  usage: Usage;
  /** The event's credits so far, this turn included. */
  creditsAfter: number;
}

export interface ToolCallInput {
  employeeId: string;
  messageId: string;
  call: ToolCall;
  /** Chosen by the workflow once per call: the id that makes every attempt of this call one write or one delivery. */
  deliveryId: string;
}

/** What a delivery sent, for the event's steps: never the body itself. */
export interface DeliveryRecord {
  endpoint: string;
  bytes: number;
  sha256: string;
  status?: number;
}

export interface ToolCallResult {
  /** What goes back to the model as the `role: "tool"` message. */
  content: string;
  ok: boolean;
  runtimeMs: number;
  /** send_webhook: what was delivered. */
  delivery?: DeliveryRecord;
}

export interface RecordOutcomeInput {
  employeeId: string;
  messageId: string;
  message: string;
  outcome: EmployeeOutcome;
}

export interface LinkBatchInput {
  accountId: string;
  /** The batch's first message. */
  batchOf: string;
  messageIds: string[];
}

export interface SettleCreditsInput {
  accountId: string;
  messageId: string;
  employeeId: string;
  event?: string;
  usage: Usage;
  outcome: SettleOutcome;
}

/** The event workflow's activities; `activities/` implements them (createActivities). */
export interface EventActivities {
  prepareAgent(input: PrepareAgentInput): Promise<AgentSetup>;
  modelTurn(input: ModelTurnInput): Promise<ModelTurnResult>;
  rememberNote(input: ToolCallInput): Promise<ToolCallResult>;
  replyToOwner(input: ToolCallInput): Promise<ToolCallResult>;
  sendWebhook(input: ToolCallInput): Promise<ToolCallResult>;
  recordOutcome(input: RecordOutcomeInput): Promise<EmployeeOutcome>;
  settleCredits(input: SettleCreditsInput): Promise<ChargeResult>;
  linkBatch(input: LinkBatchInput): Promise<void>;
}

export interface BulkReplayInput {
  bulkId: string;
  accountId: string;
}

export interface BulkReplayResult {
  bulkId: string;
  state: 'completed' | 'cancelled';
}

export interface BulkStepInput {
  bulkId: string;
  accountId: string;
  /** Items one step replays at most (each also counted against the account's rate limit). */
  max: number;
}

export interface BulkStepResult {
  /** Items not done yet. */
  remaining: number;
  /** The account's rate limit is spent: wait this long before the next step. */
  waitMs: number;
}

/** The bulk replay workflow's activities. */
export interface BulkReplayActivities {
  replayBulkStep(input: BulkStepInput): Promise<BulkStepResult>;
  finishBulkReplay(input: { bulkId: string; state: BulkReplayResult['state'] }): Promise<void>;
}

/** The reconcile workflow's activity. */
export interface ReconcileActivities {
  reconcileAllAccounts(input: { trigger: ReconcileSummary['trigger'] }): Promise<ReconcileSummary>;
}
