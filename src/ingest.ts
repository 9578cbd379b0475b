import { randomUUID } from 'node:crypto';
import { Client, Connection, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { Redis } from 'ioredis';
import { keys } from './stores/keys';
import { eventWorkflowId, sha256Hex } from './workflow-id';
import { formatWebhookMessage } from './format-message';
import { WORKFLOW_TYPE, type WebhookEventInput } from '../workflows/types';
import { ACCOUNT_ID, EMPLOYEE_ID, EVENT_STATUS, EVENT_TYPE } from '../workflows/search-attributes';
import { upstream, upstreamUnavailable } from './http/errors';
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
 */
export class EventIngest {
  constructor(
    private readonly client: Client,
    private readonly connection: Connection,
    private readonly redis: Redis,
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
    let runId: string;
    try {
      runId = (await this.start(workflowId, input)).firstExecutionRunId;
    } catch (err) {
      // Only a running workflow for this key refuses the start: that is the original event.
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw upstreamUnavailable('temporal', err);
      const { original, dedupUntil } = await this.describeOriginal(workflowId);
      if (windowKey) await this.remember(windowKey, original, dedupUntil);
      return this.duplicate(original, workflowId);
    }
    await this.recordAccepted(input, { accountId: req.accountId, employeeId: req.employeeId, workflowId, runId, event: req.event, receivedAt }, windowKey);
    return { status: 'accepted', messageId, employeeId: req.employeeId, workflowId };
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

  /** The running workflow for this key carries the original message id and its window's end in its memo. */
  private async describeOriginal(workflowId: string): Promise<{ original: Remembered; dedupUntil: number }> {
    const description = await upstream('temporal', () => this.client.workflow.getHandle(workflowId).describe());
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
