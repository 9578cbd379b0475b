import type { EventIntake } from '../stores/intake';
import type { EventRuns, FailedRun } from '../temporal/event-runs';
import { DomainError, upstream } from './errors';
import type { EventIngest, IngestResult } from './ingest';

export interface ReplayRequest {
  accountId: string;
  messageId: string;
  /** A corrected payload; absent: the original's, as kept. */
  payload?: string;
  /** The replay request's own Idempotency-Key (scope 'replay'): the same key is the same replay. */
  idempotencyKey?: string;
  /** How long the key's window holds; default: the API's Idempotency-Key window (bulk replays hold theirs longer). */
  keyWindowMs?: number;
  requestId: string;
}

export interface ReplayResult extends IngestResult {
  /** The first original: a replay of a replay points at it. */
  replayOf: string;
}

export interface ReplayOptions {
  /** Without a key, replay requests for one event within this long are one replay (REPLAY_CLICK_WINDOW_MS). */
  clickWindowMs: number;
  /** How long a replay's own Idempotency-Key holds (the API's window). */
  idempotencyWindowMs: number;
  /** Opens a kept payload (src/temporal/sealed-payload.ts). */
  open: (sealed: Buffer) => Promise<string>;
}

const KEY_SCOPE = 'replay';
const CLICK_SCOPE = 'replay-click';

/**
 * Runs an earlier event again as a new event: same employee and label, the kept (or a corrected)
 * payload, a new message id, its own reservation and charge, `replay_of` naming the first original.
 * It goes through the ingest like any event, so its window, 402 and 404 are the ingest's. The
 * original keeps its history, status and charge.
 */
export class EventReplayer {
  constructor(
    private readonly ingest: EventIngest,
    private readonly intake: EventIntake,
    private readonly runs: EventRuns,
    private readonly options: ReplayOptions,
  ) {}

  async replay(req: ReplayRequest): Promise<ReplayResult> {
    const original = await upstream('database', () => this.intake.kept(req.accountId, req.messageId));
    if (!original) throw new DomainError('MESSAGE_NOT_FOUND', 'No event with this message_id in this account.');
    if (!original.sealed) {
      throw new DomainError(
        'REPLAY_EXPIRED',
        'This event can no longer be replayed: its payload is kept only for REPLAY_RETENTION after it was accepted, and that time has passed. Send it again as a new event.',
      );
    }
    const state = await upstream('temporal', () => this.runs.state(original.workflowId, original.messageId));
    // Queued (ordered or batch mode): no run of its own yet, and its reservation not settled.
    if (state === 'running' || (state === 'absent' && original.queuedAt && original.unsettled)) {
      throw new DomainError('EVENT_RUNNING', 'This event has not ended yet; replay it once its status is completed or failed.');
    }
    const sealed = original.sealed;
    const payload = req.payload ?? (await upstream('database', () => this.options.open(sealed)));
    const replayOf = original.replayOf ?? original.messageId;
    const window =
      req.idempotencyKey !== undefined
        ? { scope: KEY_SCOPE, key: `${original.messageId}:${req.idempotencyKey}`, windowMs: req.keyWindowMs ?? this.options.idempotencyWindowMs }
        : { scope: CLICK_SCOPE, key: original.messageId, windowMs: this.options.clickWindowMs };
    const result = await this.ingest.accept({
      accountId: req.accountId,
      employeeId: original.employeeId,
      event: original.event,
      payload,
      requestId: req.requestId,
      window,
      replayOf,
    });
    return { ...result, replayOf };
  }

  /** The dead-letter view: the account's failed events, most recently failed first, a page at a time. */
  async failed(
    accountId: string | undefined,
    options: { since?: Date; cursor?: Uint8Array; limit: number },
  ): Promise<{ runs: FailedRun[]; next?: Uint8Array }> {
    return upstream('temporal', () => this.runs.failed(accountId, options));
  }
}
