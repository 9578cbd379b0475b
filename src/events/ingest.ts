import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatWebhookMessage } from '../domain/events';
import type { WebhookEventInput } from '../../workflows/contract';
import type { Logger } from '../observability/logger';
import { sha256Hex } from '../shared/hash';
import { truncate } from '../shared/text';
import type { EmployeeStore, FlowSettings } from '../stores/employees';
import type { EventIntake, WindowOriginal } from '../stores/intake';
import type { Ledger } from '../stores/ledger';
import type { IdempotencyCache, OriginalEvent } from '../stores/redis/idempotency-cache';
import type { EventRuns } from '../temporal/event-runs';
import { DomainError, dependencyUnavailable, upstream } from './errors';
import { employeeQueueWorkflowId, eventWorkflowId } from './workflow-id';

export interface IngestRequest {
  accountId: string;
  employeeId: string;
  payload: string;
  event?: string;
  idempotencyKey?: string;
  requestId: string;
  /** A channel other than the seed's endpoint (a signed source): its own window. */
  channel?: IngestChannel;
  /**
   * A window of another scope than the API's Idempotency-Key (replays: their own key, or a short
   * double-click window per original). The event then runs under its message id, and `idempotencyKey`
   * is not used.
   */
  window?: { scope: string; key: string; windowMs: number };
  /** The first original event this one replays. */
  replayOf?: string;
}

/**
 * A signed source's window: its scope (`source:<id>`), its length, and what a repeat of the key
 * with another body gets. A sender's delivery id is authoritative, so a source answers it as a
 * duplicate (and logs it) where the seed's endpoint refuses it (422).
 */
export interface IngestChannel {
  scope: string;
  windowMs: number;
  onReuse: 'refuse' | 'duplicate';
}

export interface IngestResult {
  status: 'accepted' | 'duplicate';
  messageId: string;
  employeeId: string;
  workflowId: string;
}

export interface IngestOptions {
  taskQueue: string;
  /** How long an Idempotency-Key stays a duplicate after its first acceptance (the seed's endpoint: 5 minutes). */
  idempotencyWindowMs: number;
  /** gRPC deadline for the start call, so an unreachable Temporal answers a 502 in bounded time. */
  startTimeoutMs: number;
  /** Credits held from acceptance until the event settles; an account that cannot cover it gets 402. */
  reserveCreditsPerEvent: number;
  /** How long the sealed payload is kept for replay (REPLAY_RETENTION). */
  replayRetentionMs: number;
  /** Seals a payload for keeping (src/temporal/sealed-payload.ts). */
  seal: (payload: string) => Promise<Buffer>;
  /** Events an ordered employee's queue workflow starts before it continues as new. */
  eventsPerQueueRun: number;
}

/** What ingest asked the Idempotency-Key cache before the request was validated (see `peek`). */
export type WindowPeek = Promise<OriginalEvent | undefined> | undefined;

/** What became of a window's original event, as a repeat learns it (see EventIngest.originalOutcome). */
type OriginalOutcome = 'accepted' | 'released' | 'never-started';

/** The window scope of POST /api/webhook/; signed sources get their own. */
const API_SCOPE = 'api';
const SUMMARY_LENGTH = 200;
/** Batch mode's defaults: a batch closes after 30 s without a new event, 5 minutes after its first, or at 50 events. */
const BATCH_DEBOUNCE_MS = 30_000;
const BATCH_MAX_WAIT_MS = 300_000;
const BATCH_MAX_EVENTS = 50;
/** How often a repeat asks again while its original's start is in flight: from this, doubling. */
const IN_FLIGHT_POLL_MS = 25;
const IN_FLIGHT_MAX_POLL_MS = 250;
/** Beyond the start timeout: the original's release (on a failed start) has this long to land. */
const IN_FLIGHT_GRACE_MS = 2_000;

/**
 * Accepts an event. With an Idempotency-Key, its window in PostgreSQL says whether the key was seen:
 * one statement (EventIntake.accept) claims the window, reserves the credits and records the
 * message, so an accepted event costs one database round trip and the Temporal start; Redis caches
 * the windows of repeats. The event workflow is not involved in the window: it closes when its work
 * is done. A repeat whose original is still starting waits for its outcome; a repeat that carries
 * another request under the same key is refused (422), never answered as a silent duplicate.
 */
export class EventIngest {
  /** Repeats of one key waiting on its original's start, shared within this process. */
  private readonly waits = new Map<string, Promise<OriginalOutcome>>();

  constructor(
    private readonly runs: EventRuns,
    private readonly employees: EmployeeStore,
    private readonly windows: IdempotencyCache,
    private readonly intake: EventIntake,
    private readonly ledger: Ledger,
    private readonly options: IngestOptions,
    private readonly logger: Logger,
  ) {}

  /**
   * Starts reading the key's cached window now, so the caller can send it in the same Redis round
   * trip as its rate limit; `accept` uses it only once the request is valid. Never fails: a cache
   * that does not answer only means asking the database.
   */
  peek(accountId: string, idempotencyKey: string | undefined): WindowPeek {
    if (idempotencyKey === undefined) return undefined;
    return this.windows.lookup(accountId, idempotencyKey).catch(() => undefined);
  }

  async accept(request: IngestRequest, peeked?: WindowPeek): Promise<IngestResult> {
    const req = scoped(request);
    const employee = await upstream('database', () => this.employees.getEmployeeCached(req.employeeId));
    // Another account's employee gets the same answer as a missing one: ids are not an oracle.
    if (!employee || employee.accountId !== req.accountId) {
      throw new DomainError('EMPLOYEE_NOT_FOUND', `No employee ${req.employeeId} in this account. Check employee_id.`, { field: 'employee_id' });
    }
    const payloadSha256 = sha256Hex(req.payload);
    // A replay's window (its own scope and key) leaves the event under its message id.
    const apiKey = req.window ? undefined : req.idempotencyKey;
    const workflowIdOf = (messageId: string) => eventWorkflowId(req.accountId, messageId, apiKey);
    if (apiKey !== undefined) {
      const cached = await (peeked ?? this.peek(req.accountId, apiKey));
      if (cached) return this.duplicate(req, payloadSha256, cached, workflowIdOf(cached.messageId));
    }
    const claimScope = req.window ? req.window.scope : (req.channel?.scope ?? API_SCOPE);
    const claimKey = req.window ? sha256Hex(req.window.key) : apiKey === undefined ? undefined : sha256Hex(apiKey);
    const claimMs = req.window ? req.window.windowMs : (req.channel?.windowMs ?? this.options.idempotencyWindowMs);
    const sealed = await this.options.seal(req.payload);

    let takeOver: string | undefined;
    for (;;) {
      const messageId = randomUUID();
      const workflowId = workflowIdOf(messageId);
      const receivedAt = Date.now();
      const claim = await upstream('database', () =>
        this.intake.accept({
          accountId: req.accountId,
          messageId,
          employeeId: req.employeeId,
          event: req.event,
          workflowId,
          credits: this.options.reserveCreditsPerEvent,
          at: new Date(receivedAt),
          window: claimKey === undefined ? undefined : { scope: claimScope, keySha256: claimKey, payloadSha256, windowMs: claimMs, takeOver },
          kept: { sealed, keepMs: this.options.replayRetentionMs },
          replayOf: req.replayOf,
          reservationWorkflowId: employee.flow.mode === 'parallel' ? undefined : employeeQueueWorkflowId(req.accountId, req.employeeId),
        }),
      );
      if (claim.outcome === 'insufficient') throw this.insufficient(claim.balance - claim.reserved);
      if (claim.outcome === 'reserved') {
        const input: WebhookEventInput = {
          messageId,
          accountId: req.accountId,
          employeeId: req.employeeId,
          event: req.event,
          payload: req.payload,
          idempotencyKey: apiKey,
          requestId: req.requestId,
          receivedAt,
        };
        return employee.flow.mode === 'parallel' ? this.start(req, input, workflowId) : this.enqueue(input, workflowId, employee.flow);
      }
      const original = claim.original;
      refuseReuse(req, payloadSha256, original, this.logger);
      const state = await this.originalOutcome(req.accountId, claimScope, claimKey!, workflowIdOf(original.messageId), original);
      if (state === 'accepted') {
        const cached: OriginalEvent = {
          messageId: original.messageId,
          employeeId: original.employeeId,
          event: original.event,
          payloadSha256: original.payloadSha256,
        };
        await this.cache(req, cached, original.expiresAt.getTime());
        return { status: 'duplicate', messageId: original.messageId, employeeId: original.employeeId, workflowId: workflowIdOf(original.messageId) };
      }
      // Never started (its API died between the reservation and the start): this request is the event.
      // The orphan's reservation and message record go now (reconcile would release them later), so
      // the account does not show an event that never ran.
      if (state === 'never-started') await this.release({ accountId: req.accountId, messageId: original.messageId }, 'never started');
      takeOver = state === 'never-started' ? original.messageId : undefined;
    }
  }

  /**
   * What became of the window's original event. 'accepted': Temporal has its run. While its start
   * may still be in flight (younger than the start timeout plus a grace), it is asked again with
   * backoff; 'released': its start failed and the window was given back (claim again, and this
   * request is the event); 'never-started': older than that and unknown to Temporal (its API
   * died), so this request takes the window over. Concurrent repeats of one key in this process
   * share one wait. (A window outliving the namespace's retention would read as never started:
   * windows are minutes, retention days.)
   */
  private originalOutcome(accountId: string, scope: string, keySha256: string, workflowId: string, original: WindowOriginal): Promise<OriginalOutcome> {
    const key = `${accountId}/${keySha256}/${original.messageId}`;
    let wait = this.waits.get(key);
    if (!wait) {
      wait = this.waitForOriginal(accountId, scope, keySha256, workflowId, original).finally(() => this.waits.delete(key));
      this.waits.set(key, wait);
    }
    return wait;
  }

  private async waitForOriginal(accountId: string, scope: string, keySha256: string, workflowId: string, original: WindowOriginal): Promise<OriginalOutcome> {
    const giveUpAt = original.createdAt.getTime() + this.options.startTimeoutMs + IN_FLIGHT_GRACE_MS;
    for (let pause = IN_FLIGHT_POLL_MS; ; pause = Math.min(pause * 2, IN_FLIGHT_MAX_POLL_MS)) {
      // A Temporal that does not answer in time is asked again, until the wait is over.
      const run = await this.runs.find(workflowId, original.messageId).catch(() => 'unknown' as const);
      if (run !== undefined && run !== 'unknown') return 'accepted';
      // Held by its employee's queue workflow (ordered or batch mode), its own workflow not started yet.
      if ((await upstream('database', () => this.intake.kept(accountId, original.messageId)))?.queuedAt) return 'accepted';
      if (Date.now() >= giveUpAt) {
        if (run === 'unknown') throw dependencyUnavailable('temporal', new Error(`could not learn whether ${workflowId} started`));
        return 'never-started';
      }
      await sleep(pause);
      const current = await upstream('database', () => this.intake.windowMessage(accountId, scope, keySha256));
      if (current !== original.messageId) return 'released';
    }
  }

  private async start(req: IngestRequest, input: WebhookEventInput, workflowId: string): Promise<IngestResult> {
    let started: 'started' | 'running';
    try {
      started = await this.runs.start(workflowId, input, {
        taskQueue: this.options.taskQueue,
        timeoutMs: this.options.startTimeoutMs,
        summary: truncate(formatWebhookMessage(input.payload, input.event), SUMMARY_LENGTH),
      });
    } catch (err) {
      // A start whose answer was lost (deadline, dropped connection) may still have created the
      // workflow: a 502 then would make a caller without a key send the event twice.
      if (await this.runs.find(workflowId, input.messageId, 2_000).catch(() => undefined)) return this.accepted(input, workflowId);
      await this.release(input, 'start-failed');
      throw dependencyUnavailable('temporal', err);
    }
    if (started === 'started') return this.accepted(input, workflowId);
    // The key's window had ended, but the event it stood for is still running: a repeat of it.
    await this.release(input, 'duplicate');
    const running = await upstream('temporal', () => this.runs.latest(workflowId));
    if (!running) throw dependencyUnavailable('temporal', new Error(`workflow ${workflowId} refused a start but is not running`));
    return { status: 'duplicate', messageId: running.memo.messageId, employeeId: running.memo.employeeId, workflowId };
  }

  /**
   * Ordered mode: the event goes to its employee's queue workflow (signalWithStart), which starts
   * its workflow when its turn comes; accepted once the signal is durably in the queue's history.
   */
  private async enqueue(input: WebhookEventInput, workflowId: string, flow: FlowSettings): Promise<IngestResult> {
    const queueWorkflowId = employeeQueueWorkflowId(input.accountId, input.employeeId);
    try {
      await this.runs.enqueue(workflowId, input, {
        queueWorkflowId,
        taskQueue: this.options.taskQueue,
        timeoutMs: this.options.startTimeoutMs,
        summary: truncate(formatWebhookMessage(input.payload, input.event), SUMMARY_LENGTH),
        // A batch runs one at a time: its events are in one run already.
        concurrency: flow.mode === 'batch' ? 1 : (flow.concurrency ?? 1),
        eventsPerRun: this.options.eventsPerQueueRun,
        ...(flow.mode === 'batch'
          ? {
              batch: {
                debounceMs: flow.debounceMs ?? BATCH_DEBOUNCE_MS,
                maxWaitMs: flow.maxWaitMs ?? BATCH_MAX_WAIT_MS,
                maxBatch: flow.maxBatch ?? BATCH_MAX_EVENTS,
              },
            }
          : {}),
      });
    } catch (err) {
      // A signal whose answer was lost may have landed: a 502 then would make a caller without a key send the event twice.
      const held =
        (await this.runs.queueHolds(queueWorkflowId, input.messageId, 2_000).catch(() => false)) ||
        (await this.runs.find(workflowId, input.messageId, 2_000).catch(() => undefined)) !== undefined;
      if (!held) {
        await this.release(input, 'enqueue-failed');
        throw dependencyUnavailable('temporal', err);
      }
    }
    try {
      await this.intake.markQueued(input.messageId);
    } catch (err) {
      this.logger.warn(
        { err: (err as Error).message, message_id: input.messageId },
        'could not mark the event queued; its status reads accepted until it starts',
      );
    }
    return this.accepted(input, workflowId);
  }

  private accepted(input: WebhookEventInput, workflowId: string): IngestResult {
    return { status: 'accepted', messageId: input.messageId, employeeId: input.employeeId, workflowId };
  }

  private insufficient(available: number): DomainError {
    const credits = this.options.reserveCreditsPerEvent;
    return new DomainError(
      'INSUFFICIENT_CREDITS',
      `Not enough credits: this account has ${Math.max(available, 0)} available and each event holds ${credits} until it is charged. ` +
        'Top up the account (CLI: sistava credits add --account ID --amount N), then retry.',
    );
  }

  /**
   * The event was not accepted after all: give its credits back, forget its message record and the
   * window it claimed. If the database fails here the reservation stays open until reconcile releases
   * it (it finds no workflow for it), and a repeat takes the window over once the start timeout passed.
   */
  private async release(input: Pick<WebhookEventInput, 'accountId' | 'messageId'>, reason: string): Promise<void> {
    try {
      await this.ledger.releaseUnaccepted(input.accountId, input.messageId, reason);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message, message_id: input.messageId }, 'could not release reserved credits; billing reconcile will');
    }
  }

  /** A repeat answered from the cache: the same checks as one answered by the database. */
  private duplicate(req: IngestRequest, payloadSha256: string, original: OriginalEvent, workflowId: string): IngestResult {
    refuseReuse(req, payloadSha256, original, this.logger);
    return { status: 'duplicate', messageId: original.messageId, employeeId: original.employeeId, workflowId };
  }

  /**
   * Caching the window is an optimisation: if Redis fails here, the database still guards. It is
   * cached on the first repeat, not at acceptance: an accepted event then costs no Redis write.
   */
  private async cache(req: IngestRequest, original: OriginalEvent, until: number): Promise<void> {
    if (req.idempotencyKey === undefined || req.window) return;
    try {
      await this.windows.store(req.accountId, req.idempotencyKey, original, until);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'could not cache idempotency window; the database still guards it');
    }
  }
}

/**
 * A channel's key is scoped to it before it names anything (the window row, the cached window, the
 * workflow id): two sources, or a source and the seed's endpoint, never share a key. The separator
 * is a newline, which an Idempotency-Key (printable ASCII) cannot hold.
 */
function scoped(req: IngestRequest): IngestRequest {
  if (!req.channel || req.idempotencyKey === undefined) return req;
  return { ...req, idempotencyKey: `${req.channel.scope}\n${req.idempotencyKey}` };
}

/** A key's repeat must carry the request it was first sent with; which field differs is named, never the values. */
function refuseReuse(
  req: IngestRequest,
  payloadSha256: string,
  original: Pick<OriginalEvent, 'messageId' | 'employeeId' | 'event' | 'payloadSha256'>,
  logger: Logger,
): void {
  const differs = [
    original.employeeId !== req.employeeId ? 'employee_id' : undefined,
    (original.event ?? null) !== (req.event ?? null) ? 'event' : undefined,
    original.payloadSha256 !== payloadSha256 ? 'payload' : undefined,
  ].filter((field): field is string => field !== undefined);
  if (differs.length === 0) return;
  if (req.channel?.onReuse === 'duplicate') {
    logger.warn({ scope: req.channel.scope, message_id: original.messageId, differs }, 'delivery id repeated with another request; answered as a duplicate');
    return;
  }
  throw new DomainError(
    'IDEMPOTENCY_KEY_REUSED',
    `This Idempotency-Key was used within its window for another request (its ${differs.join(', ')} differ${differs.length === 1 ? 's' : ''}). ` +
      'Send a new key for a new event, or repeat the original request exactly.',
    { field: differs[0] },
  );
}
