import { randomUUID } from 'node:crypto';
import { Client, Connection, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { Ledger } from './stores/ledger';
import type { Redis } from 'ioredis';
import { keys } from './stores/keys';
import { eventWorkflowId, sha256Hex } from './workflow-id';
import { formatWebhookMessage } from './format-message';
import { WORKFLOW_TYPE, type WebhookEventInput } from '../workflows/types';
import { ACCOUNT_ID, EMPLOYEE_ID, EVENT_STATUS, EVENT_TYPE } from '../workflows/search-attributes';
import { apiError, upstream, upstreamUnavailable } from './http/errors';
import type { Logger } from './logger';
import { MESSAGE_RECORD_TTL_SECONDS, type MessageRecord } from './event-status';

export interface IngestRequest {
  accountId: string;
  employeeId: string;
  payload: string;
  event?: string;
  idempotencyKey?: string;
  requestId: string;
}

export interface IngestResult {
  status: 'accepted' | 'duplicate';
  messageId: string;
  employeeId: string;
  workflowId: string;
}

export interface IngestOptions {
  taskQueue: string;
  /** How long an Idempotency-Key stays a duplicate after its first acceptance. */
  idempotencyWindowMs: number;
  /** gRPC deadline for the start call, so an unreachable Temporal answers a 502 in bounded time. */
  startTimeoutMs?: number;
  /** Credits held from acceptance until the event settles; an account that cannot cover it gets 402. */
  reserveCreditsPerEvent: number;
}

interface Remembered {
  messageId: string;
  employeeId: string;
}

const SUMMARY_LENGTH = 200;

/**
 * Accepts an event: the Idempotency-Key window in Redis answers repeats cheaply, and Temporal's
 * workflow-id uniqueness is the guard that holds when Redis has forgotten. The event workflow stays
 * open until the window ends, so a start within the window always meets a running workflow.
 * Credits are reserved before the start, in the same Redis step that checks them: concurrent
 * requests cannot all pass the check and then all spend.
 */
export class EventIngest {
  constructor(
    private readonly client: Client,
    private readonly connection: Connection,
    private readonly redis: Redis,
    private readonly ledger: Ledger,
    private readonly options: IngestOptions,
    private readonly logger: Logger,
  ) {}

  async accept(req: IngestRequest): Promise<IngestResult> {
    const windowKey = req.idempotencyKey ? keys.idempotency(req.accountId, sha256Hex(req.idempotencyKey)) : undefined;
    if (windowKey) {
      const seen = await upstream('redis', () => this.redis.get(windowKey));
      if (seen) return this.duplicate(JSON.parse(seen) as Remembered, eventWorkflowId(req.accountId, '', req.idempotencyKey));
    }

    const messageId = randomUUID();
    const workflowId = eventWorkflowId(req.accountId, messageId, req.idempotencyKey);
    const receivedAt = Date.now();
    const input: WebhookEventInput = {
      messageId,
      accountId: req.accountId,
      employeeId: req.employeeId,
      event: req.event,
      payload: req.payload,
      idempotencyKey: req.idempotencyKey,
      requestId: req.requestId,
      receivedAt,
      dedupUntil: req.idempotencyKey ? receivedAt + this.options.idempotencyWindowMs : undefined,
    };
    const duplicate = await this.reserve(input, workflowId);
    if (duplicate) {
      if (windowKey) await this.remember(windowKey, duplicate.original, duplicate.dedupUntil);
      return this.duplicate(duplicate.original, workflowId);
    }
    let runId: string | undefined;
    try {
      runId = (await this.start(workflowId, input)).firstExecutionRunId;
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        // Only a running workflow for this key refuses the start: that is the original event.
        await this.release(input, 'duplicate');
        const { original, dedupUntil } = await this.describeOriginal(workflowId);
        if (windowKey) await this.remember(windowKey, original, dedupUntil);
        return this.duplicate(original, workflowId);
      }
      runId = await this.startedAnyway(workflowId, messageId);
      if (!runId) {
        await this.release(input, 'start-failed');
        throw upstreamUnavailable('temporal', err);
      }
    }
    await this.recordAccepted(input, { accountId: req.accountId, employeeId: req.employeeId, workflowId, runId, event: req.event, receivedAt }, windowKey);
    return { status: 'accepted', messageId, employeeId: req.employeeId, workflowId };
  }

  /**
   * Holds the event's estimated cost, or answers 402 when the account cannot cover it. A repeat of
   * a keyed event whose window Redis has forgotten is still a duplicate, not a 402: the running
   * workflow for the key says so (returned here, nothing reserved).
   */
  private async reserve(input: WebhookEventInput, workflowId: string): Promise<{ original: Remembered; dedupUntil: number } | undefined> {
    const credits = this.options.reserveCreditsPerEvent;
    const held = await upstream('redis', () =>
      this.ledger.reserve({ accountId: input.accountId, messageId: input.messageId, employeeId: input.employeeId, event: input.event, workflowId, credits }),
    );
    if (held.ok) return undefined;
    if (input.idempotencyKey) {
      const running = await this.describeOriginal(workflowId, true).catch(() => undefined);
      if (running) return running;
    }
    const available = held.balance - held.reserved;
    throw apiError(
      402,
      'INSUFFICIENT_CREDITS',
      `Not enough credits: this account has ${Math.max(available, 0)} available and each event holds ${credits} until it is charged. ` +
        'Top up the account (CLI: sistava credits add --account ID --amount N), then retry.',
    );
  }

  /**
   * The event was not started after all: give its credits back. If Redis fails here the reservation
   * stays open until `billing reconcile --repair` releases it (it finds no workflow for it).
   */
  private async release(input: WebhookEventInput, reason: string): Promise<void> {
    try {
      await this.ledger.release(input.accountId, input.messageId, reason);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message, message_id: input.messageId }, 'could not release reserved credits; billing reconcile will');
    }
  }

  /** Not wrapped in `upstream`: the caller must still see WorkflowExecutionAlreadyStartedError as such. */
  private start(workflowId: string, input: WebhookEventInput) {
    const deadline = Date.now() + (this.options.startTimeoutMs ?? 5_000);
    return this.connection.withDeadline(deadline, () =>
      this.client.workflow.start(WORKFLOW_TYPE, {
        taskQueue: this.options.taskQueue,
        workflowId,
        args: [input],
        // A closed run may be followed by a new one (the window is over); a running one never.
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        workflowIdConflictPolicy: 'FAIL',
        staticSummary: truncate(formatWebhookMessage(input.payload, input.event), SUMMARY_LENGTH),
        memo: {
          messageId: input.messageId,
          employeeId: input.employeeId,
          requestId: input.requestId,
          idempotencyKey: input.idempotencyKey ?? null,
          receivedAt: new Date(input.receivedAt).toISOString(),
          dedupUntil: input.dedupUntil ?? null,
        },
        typedSearchAttributes: [
          { key: ACCOUNT_ID, value: input.accountId },
          { key: EMPLOYEE_ID, value: input.employeeId },
          { key: EVENT_TYPE, value: input.event ?? '' },
          { key: EVENT_STATUS, value: 'accepted' },
        ],
      }),
    );
  }

  /**
   * A start whose answer was lost (deadline, dropped connection) may still have created the
   * workflow: a 502 then would make a caller without a key send the event twice. Returns the run id
   * when our own start did happen; undefined when it did not, or when Temporal cannot tell us.
   */
  private async startedAnyway(workflowId: string, messageId: string): Promise<string | undefined> {
    try {
      const description = await this.connection.withDeadline(Date.now() + 2_000, () => this.client.workflow.getHandle(workflowId).describe());
      return (description.memo as Partial<Remembered> | undefined)?.messageId === messageId ? description.runId : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * The running workflow for this key carries the original message id and its window's end in its memo.
   * `runningOnly`: undefined unless that workflow is still running (a closed one is no duplicate).
   */
  private async describeOriginal(workflowId: string): Promise<{ original: Remembered; dedupUntil: number }>;
  private async describeOriginal(workflowId: string, runningOnly: true): Promise<{ original: Remembered; dedupUntil: number } | undefined>;
  private async describeOriginal(workflowId: string, runningOnly = false): Promise<{ original: Remembered; dedupUntil: number } | undefined> {
    const description = await upstream('temporal', () => this.client.workflow.getHandle(workflowId).describe());
    if (runningOnly && description.status.name !== 'RUNNING') return undefined;
    const memo = (description.memo ?? {}) as Partial<Remembered> & { receivedAt?: string; dedupUntil?: number | null };
    const dedupUntil = memo.dedupUntil ?? Date.parse(memo.receivedAt ?? '') + this.options.idempotencyWindowMs;
    return { original: { messageId: String(memo.messageId), employeeId: String(memo.employeeId) }, dedupUntil };
  }

  /**
   * Caching the window is an optimisation: if Redis fails here, the running workflow still guards.
   * The entry expires when the workflow's window does, never later: a key Redis still remembers after
   * the workflow has closed would answer "duplicate" past the window, and a re-cache must not extend it.
   */
  private async remember(windowKey: string, value: Remembered, until: number): Promise<void> {
    if (!(until > Date.now())) return;
    try {
      await this.redis.set(windowKey, JSON.stringify(value), 'PXAT', until, 'NX');
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'could not cache idempotency window; Temporal still guards it');
    }
  }

  /**
   * One round trip after the start: the message record (for the status API) and the key's window.
   * The event is accepted already, so a failure here is logged, not returned: Temporal still guards.
   */
  private async recordAccepted(input: WebhookEventInput, record: MessageRecord, windowKey?: string): Promise<void> {
    const tx = this.redis.multi().set(keys.message(input.messageId), JSON.stringify(record), 'EX', MESSAGE_RECORD_TTL_SECONDS);
    if (windowKey && input.dedupUntil && input.dedupUntil > Date.now()) {
      tx.set(windowKey, JSON.stringify({ messageId: input.messageId, employeeId: input.employeeId }), 'PXAT', input.dedupUntil, 'NX');
    }
    try {
      await tx.exec();
    } catch (err) {
      this.logger.warn({ err: (err as Error).message, message_id: input.messageId }, 'could not record accepted event in Redis; Temporal still guards it');
    }
  }

  private duplicate(original: Remembered, workflowId: string): IngestResult {
    return { status: 'duplicate', messageId: original.messageId, employeeId: original.employeeId, workflowId };
  }
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
