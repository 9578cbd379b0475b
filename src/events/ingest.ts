import { randomUUID } from 'node:crypto';
import { Client, Connection, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { processWebhookEvent } from '../../workflows';
import { ACCOUNT_ID, EMPLOYEE_ID, EVENT_STATUS, EVENT_TYPE, type WebhookEventInput } from '../../workflows/contract';
import type { Logger } from '../observability/logger';
import { truncate } from '../shared/text';
import type { Ledger } from '../stores/ledger';
import type { IdempotencyCache, OriginalEvent } from '../stores/redis/idempotency-cache';
import { DomainError, dependencyUnavailable, upstream } from './errors';
import { formatWebhookMessage } from './format-message';
import { eventWorkflowId } from './workflow-id';

export interface IngestRequest {
  accountId: string;
  employeeId: string;
  payload: string;
  event?: string;
  idempotencyKey?: string;
  requestId: string;
  /** What the Idempotency-Key cache holds for this key, looked up beside the rate limit (see `lookupWindow`). */
  cached?: OriginalEvent;
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

const SUMMARY_LENGTH = 200;

/**
 * Accepts an event: the Idempotency-Key cache answers repeats cheaply, and Temporal's workflow-id
 * uniqueness is the guard that holds when the cache has forgotten. The event workflow stays open
 * until the window ends, so a start within the window always meets a running workflow. Credits are
 * reserved before the start, in the same database statement that checks them (which also records
 * the message): concurrent requests cannot all pass the check and then all spend. An accepted
 * event costs one database round trip and the Temporal start.
 */
export class EventIngest {
  constructor(
    private readonly client: Client,
    private readonly connection: Connection,
    private readonly windows: IdempotencyCache,
    private readonly ledger: Ledger,
    private readonly options: IngestOptions,
    private readonly logger: Logger,
  ) {}

  /**
   * The cached window of a key, for the route to ask alongside the rate limit (one Redis round
   * trip for both). Never fails: a cache that does not answer only means asking Temporal.
   */
  async lookupWindow(accountId: string, idempotencyKey: string | undefined): Promise<OriginalEvent | undefined> {
    if (idempotencyKey === undefined) return undefined;
    return this.windows.lookup(accountId, idempotencyKey).catch(() => undefined);
  }

  async accept(req: IngestRequest): Promise<IngestResult> {
    if (req.cached) return this.duplicate(req.cached, eventWorkflowId(req.accountId, '', req.idempotencyKey));

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
      await this.remember(req, duplicate.original, duplicate.dedupUntil);
      return this.duplicate(duplicate.original, workflowId);
    }
    try {
      await this.start(workflowId, input);
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        // Only a running workflow for this key refuses the start: that is the original event.
        await this.release(input, 'duplicate');
        const { original, dedupUntil } = await this.describeOriginal(workflowId);
        await this.remember(req, original, dedupUntil);
        return this.duplicate(original, workflowId);
      }
      if (!(await this.startedAnyway(workflowId, messageId))) {
        await this.release(input, 'start-failed');
        throw dependencyUnavailable('temporal', err);
      }
    }
    return { status: 'accepted', messageId, employeeId: req.employeeId, workflowId };
  }

  /**
   * Holds the event's estimated cost, or answers 402 when the account cannot cover it. A repeat of
   * a keyed event whose window Redis has forgotten is still a duplicate, not a 402: the running
   * workflow for the key says so (returned here, nothing reserved).
   */
  private async reserve(input: WebhookEventInput, workflowId: string): Promise<{ original: OriginalEvent; dedupUntil: number } | undefined> {
    const credits = this.options.reserveCreditsPerEvent;
    const held = await upstream('database', () =>
      this.ledger.reserve({
        accountId: input.accountId,
        messageId: input.messageId,
        employeeId: input.employeeId,
        event: input.event,
        workflowId,
        credits,
        at: new Date(input.receivedAt),
      }),
    );
    if (held.ok) return undefined;
    if (input.idempotencyKey) {
      const running = await this.describeOriginal(workflowId, true).catch(() => undefined);
      if (running) return running;
    }
    const available = held.balance - held.reserved;
    throw new DomainError(
      'INSUFFICIENT_CREDITS',
      `Not enough credits: this account has ${Math.max(available, 0)} available and each event holds ${credits} until it is charged. ` +
        'Top up the account (CLI: sistava credits add --account ID --amount N), then retry.',
    );
  }

  /**
   * The event was not accepted after all: give its credits back and forget its message record. If
   * the database fails here the reservation stays open until reconcile releases it (it finds no
   * workflow for it).
   */
  private async release(input: WebhookEventInput, reason: string): Promise<void> {
    try {
      await this.ledger.releaseUnaccepted(input.accountId, input.messageId, reason);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message, message_id: input.messageId }, 'could not release reserved credits; billing reconcile will');
    }
  }

  /** Not wrapped in `upstream`: the caller must still see WorkflowExecutionAlreadyStartedError as such. */
  private start(workflowId: string, input: WebhookEventInput) {
    const deadline = Date.now() + (this.options.startTimeoutMs ?? 5_000);
    return this.connection.withDeadline(deadline, () =>
      this.client.workflow.start(processWebhookEvent, {
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
   * workflow: a 502 then would make a caller without a key send the event twice. True when our own
   * start did happen; false when it did not, or when Temporal cannot tell us.
   */
  private async startedAnyway(workflowId: string, messageId: string): Promise<boolean> {
    try {
      const description = await this.connection.withDeadline(Date.now() + 2_000, () => this.client.workflow.getHandle(workflowId).describe());
      return (description.memo as Partial<OriginalEvent> | undefined)?.messageId === messageId;
    } catch {
      return false;
    }
  }

  /**
   * The running workflow for this key carries the original message id and its window's end in its memo.
   * `runningOnly`: undefined unless that workflow is still running (a closed one is no duplicate).
   */
  private async describeOriginal(workflowId: string): Promise<{ original: OriginalEvent; dedupUntil: number }>;
  private async describeOriginal(workflowId: string, runningOnly: true): Promise<{ original: OriginalEvent; dedupUntil: number } | undefined>;
  private async describeOriginal(workflowId: string, runningOnly = false): Promise<{ original: OriginalEvent; dedupUntil: number } | undefined> {
    const description = await upstream('temporal', () => this.client.workflow.getHandle(workflowId).describe());
    if (runningOnly && description.status.name !== 'RUNNING') return undefined;
    const memo = (description.memo ?? {}) as Partial<OriginalEvent> & { receivedAt?: string; dedupUntil?: number | null };
    const dedupUntil = memo.dedupUntil ?? Date.parse(memo.receivedAt ?? '') + this.options.idempotencyWindowMs;
    return { original: { messageId: String(memo.messageId), employeeId: String(memo.employeeId) }, dedupUntil };
  }

  /**
   * Caching the window is an optimisation: if Redis fails here, the running workflow still guards.
   * It is cached on the first repeat, not at acceptance: an accepted event then costs no Redis write.
   */
  private async remember(req: IngestRequest, original: OriginalEvent, until: number): Promise<void> {
    if (req.idempotencyKey === undefined) return;
    try {
      await this.windows.remember(req.accountId, req.idempotencyKey, original, until);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'could not cache idempotency window; Temporal still guards it');
    }
  }

  private duplicate(original: OriginalEvent, workflowId: string): IngestResult {
    return { status: 'duplicate', messageId: original.messageId, employeeId: original.employeeId, workflowId };
  }
}
