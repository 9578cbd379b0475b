import { randomUUID } from 'node:crypto';
import { formatWebhookMessage } from '../domain/events';
import type { WebhookEventInput } from '../../workflows/contract';
import type { Logger } from '../observability/logger';
import { truncate } from '../shared/text';
import type { EmployeeStore } from '../stores/employees';
import type { Ledger } from '../stores/ledger';
import type { IdempotencyCache, OriginalEvent } from '../stores/redis/idempotency-cache';
import type { EventRuns } from '../temporal/event-runs';
import { DomainError, dependencyUnavailable, upstream } from './errors';
import { eventWorkflowId } from './workflow-id';

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
  startTimeoutMs: number;
  /** Credits held from acceptance until the event settles; an account that cannot cover it gets 402. */
  reserveCreditsPerEvent: number;
}

/** What ingest asked the Idempotency-Key cache before the request was validated (see `peek`). */
export type WindowPeek = Promise<OriginalEvent | undefined> | undefined;

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
    private readonly runs: EventRuns,
    private readonly employees: EmployeeStore,
    private readonly windows: IdempotencyCache,
    private readonly ledger: Ledger,
    private readonly options: IngestOptions,
    private readonly logger: Logger,
  ) {}

  /**
   * Starts reading the key's cached window now, so the caller can send it in the same Redis round
   * trip as its rate limit; `accept` uses it only once the request is valid. Never fails: a cache
   * that does not answer only means asking the database and Temporal.
   */
  peek(accountId: string, idempotencyKey: string | undefined): WindowPeek {
    if (idempotencyKey === undefined) return undefined;
    return this.windows.lookup(accountId, idempotencyKey).catch(() => undefined);
  }

  async accept(req: IngestRequest, peeked?: WindowPeek): Promise<IngestResult> {
    const employee = await upstream('database', () => this.employees.getEmployeeCached(req.employeeId));
    // Another account's employee gets the same answer as a missing one: ids are not an oracle.
    if (!employee || employee.accountId !== req.accountId) {
      throw new DomainError('EMPLOYEE_NOT_FOUND', `No employee ${req.employeeId} in this account. Check employee_id.`, { field: 'employee_id' });
    }
    const cached = req.idempotencyKey === undefined ? undefined : await (peeked ?? this.peek(req.accountId, req.idempotencyKey));
    if (cached) return this.duplicate(cached, eventWorkflowId(req.accountId, '', req.idempotencyKey));

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
    let started: 'started' | 'running';
    try {
      started = await this.runs.start(workflowId, input, {
        taskQueue: this.options.taskQueue,
        timeoutMs: this.options.startTimeoutMs,
        summary: truncate(formatWebhookMessage(input.payload, input.event), SUMMARY_LENGTH),
      });
    } catch (err) {
      if (await this.startedAnyway(workflowId, messageId)) return { status: 'accepted', messageId, employeeId: req.employeeId, workflowId };
      await this.release(input, 'start-failed');
      throw dependencyUnavailable('temporal', err);
    }
    if (started === 'running') {
      // Only a running workflow for this key refuses the start: that is the original event.
      await this.release(input, 'duplicate');
      const { original, dedupUntil } = await this.originalOf(workflowId);
      await this.remember(req, original, dedupUntil);
      return this.duplicate(original, workflowId);
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
      const running = await this.originalOf(workflowId, true).catch(() => undefined);
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

  /**
   * A start whose answer was lost (deadline, dropped connection) may still have created the
   * workflow: a 502 then would make a caller without a key send the event twice. True when our own
   * start did happen; false when it did not, or when Temporal cannot tell us.
   */
  private async startedAnyway(workflowId: string, messageId: string): Promise<boolean> {
    return (await this.runs.find(workflowId, messageId, 2_000).catch(() => undefined)) !== undefined;
  }

  /**
   * The latest run for this key carries the original message id and its window's end in its memo.
   * `runningOnly`: undefined unless that run is still running (a closed one is no duplicate).
   */
  private async originalOf(workflowId: string, runningOnly = false): Promise<{ original: OriginalEvent; dedupUntil: number }> {
    const run = await upstream('temporal', () => this.runs.latest(workflowId));
    if (!run || (runningOnly && !run.running)) throw dependencyUnavailable('temporal', new Error(`no running workflow ${workflowId}`));
    const dedupUntil = run.memo.dedupUntil ?? Date.parse(run.memo.receivedAt) + this.options.idempotencyWindowMs;
    return { original: { messageId: run.memo.messageId, employeeId: run.memo.employeeId }, dedupUntil };
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
