import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { MessageRecord } from './messages';
import { statement } from './postgres/statement';

/** The Idempotency-Key window a request claims: its channel scope, the key's sha256, and how long it lasts. */
export interface WindowClaim {
  /** 'api' for POST /api/webhook/; signed sources will have theirs. */
  scope: string;
  keySha256: string;
  payloadSha256: string;
  windowMs: number;
  /** The original message of an open window whose start never happened: this claim replaces it. */
  takeOver?: string;
}

export interface IntakeInput {
  accountId: string;
  messageId: string;
  employeeId: string;
  event?: string;
  workflowId: string;
  credits: number;
  at: Date;
  window?: WindowClaim;
  /** The payload as kept for replay (sealed), and for how long; absent: not kept. */
  kept?: { sealed: Buffer; keepMs: number };
  /** The first original this event replays. */
  replayOf?: string;
  /** A queued event's reservation names its employee's queue workflow, which will start (and settle) it. */
  reservationWorkflowId?: string;
}

/** What replay needs of an earlier event: its record, the original it replays, and its kept payload. */
export type KeptEvent = Pick<MessageRecord, 'messageId' | 'employeeId' | 'workflowId' | 'event' | 'receivedAt' | 'replayOf' | 'queuedAt' | 'unsettled'> & {
  /** Undefined when the payload was not kept or is past REPLAY_RETENTION. */
  sealed?: Buffer;
};

/** The window's original event, as its row holds it. */
export interface WindowOriginal {
  messageId: string;
  employeeId: string;
  event?: string;
  payloadSha256: string;
  createdAt: Date;
  expiresAt: Date;
}

export type IntakeOutcome =
  | { outcome: 'reserved'; balance: number; reserved: number }
  | { outcome: 'insufficient'; balance: number; reserved: number }
  | { outcome: 'duplicate'; original: WindowOriginal };

interface AcceptRow {
  outcome: IntakeOutcome['outcome'];
  balance: string | null;
  reserved: string | null;
  original_message: string | null;
  original_employee: string | null;
  original_event: string | null;
  original_payload_sha256: string | null;
  original_created_at: Date | null;
  original_expires_at: Date | null;
}

/** The ingest's one round trip: accept_event() in the idempotency-windows migration says what it does. */
const acceptEvent = statement<
  {
    accountId: string;
    messageId: string;
    employeeId: string;
    event?: string;
    workflowId: string;
    credits: number;
    at: Date;
    postingId: string;
    scope?: string;
    keySha256?: string;
    payloadSha256?: string;
    windowMs?: number;
    takeOver?: string;
    sealed?: Buffer;
    keepMs?: number;
    replayOf?: string;
    reservationWorkflowId?: string;
  },
  AcceptRow
>(
  'intake_accept_kept',
  `SELECT * FROM accept_kept_event(:accountId::uuid, :messageId::uuid, :employeeId::uuid, :event::text, :workflowId::text, :credits::bigint,
     :at::timestamptz, :postingId::uuid, :scope::text, :keySha256::text, :payloadSha256::text,
     make_interval(secs => :windowMs::double precision / 1000), :takeOver::uuid,
     :sealed::bytea, make_interval(secs => :keepMs::double precision / 1000), :replayOf::uuid, :reservationWorkflowId::text)`,
);

/** An earlier event of the account, with its payload while it is kept. */
const selectKept = statement<
  { accountId: string; messageId: string },
  {
    id: string;
    employee_id: string;
    workflow_id: string;
    event: string | null;
    received_at: Date;
    replay_of: string | null;
    queued_at: Date | null;
    unsettled: boolean;
    sealed: Buffer | null;
  }
>(
  'intake_select_kept',
  `SELECT m.id, m.employee_id, m.workflow_id, m.event, m.received_at, m.replay_of, m.queued_at, p.sealed,
     EXISTS (SELECT 1 FROM open_reservations r WHERE r.account_id = m.account_id AND r.message_id = m.id) AS unsettled
   FROM messages m LEFT JOIN event_payloads p ON p.message_id = m.id AND p.expires_at > now()
   WHERE m.id = :messageId AND m.account_id = :accountId`,
);

/** The queue workflow holds the event: a repeat of its key is now a duplicate of it, its status `queued`. */
const markQueued = statement<{ messageId: string }, never>('intake_mark_queued', `UPDATE messages SET queued_at = now() WHERE id = :messageId`);

/** Kept payloads past REPLAY_RETENTION, a batch at a time. */
const pruneKept = statement<{ limit: number }, { pruned: number }>(
  'intake_prune_kept',
  `WITH gone AS (
     DELETE FROM event_payloads WHERE message_id IN (SELECT message_id FROM event_payloads WHERE expires_at < now() LIMIT :limit)
     RETURNING 1
   ) SELECT count(*)::int AS pruned FROM gone`,
);

/** Which message a key's window names now (none: released, or never claimed). */
const windowMessage = statement<{ accountId: string; scope: string; keySha256: string }, { message_id: string }>(
  'intake_window_message',
  `SELECT message_id FROM idempotency_windows WHERE account_id = :accountId AND scope = :scope AND key_sha256 = :keySha256`,
);

/** Expired windows, a batch at a time: the rows say "duplicate" only while open, so this is housekeeping. */
const pruneWindows = statement<{ limit: number }, { pruned: number }>(
  'intake_prune_windows',
  `WITH gone AS (
     DELETE FROM idempotency_windows WHERE ctid IN (SELECT ctid FROM idempotency_windows WHERE expires_at < now() LIMIT :limit)
     RETURNING 1
   ) SELECT count(*)::int AS pruned FROM gone`,
);

/** Where an event enters the system of record: its Idempotency-Key window, its reservation and its message record, at once. */
export class EventIntake {
  constructor(private readonly db: pg.Pool) {}

  async accept(input: IntakeInput): Promise<IntakeOutcome> {
    const [row] = await acceptEvent.run(this.db, {
      accountId: input.accountId,
      messageId: input.messageId,
      employeeId: input.employeeId,
      event: input.event,
      workflowId: input.workflowId,
      credits: input.credits,
      at: input.at,
      postingId: randomUUID(),
      scope: input.window?.scope,
      keySha256: input.window?.keySha256,
      payloadSha256: input.window?.payloadSha256,
      windowMs: input.window?.windowMs,
      takeOver: input.window?.takeOver,
      sealed: input.kept?.sealed,
      keepMs: input.kept?.keepMs,
      replayOf: input.replayOf,
      reservationWorkflowId: input.reservationWorkflowId,
    });
    if (!row) throw new Error(`account ${input.accountId} has no credit balance`);
    if (row.outcome === 'duplicate') {
      return {
        outcome: 'duplicate',
        original: {
          messageId: row.original_message!,
          employeeId: row.original_employee!,
          event: row.original_event ?? undefined,
          payloadSha256: row.original_payload_sha256!,
          createdAt: row.original_created_at!,
          expiresAt: row.original_expires_at!,
        },
      };
    }
    return { outcome: row.outcome, balance: Number(row.balance), reserved: Number(row.reserved) };
  }

  /** The message a key's window names now, or undefined when there is no window row. */
  async windowMessage(accountId: string, scope: string, keySha256: string): Promise<string | undefined> {
    return (await windowMessage.run(this.db, { accountId, scope, keySha256 }))[0]?.message_id;
  }

  /** Deletes up to `limit` expired windows and as many expired kept payloads; the API calls it in the background. */
  async pruneExpired(limit = 1_000): Promise<number> {
    const [row] = await pruneWindows.run(this.db, { limit });
    const [kept] = await pruneKept.run(this.db, { limit });
    return row.pruned + kept.pruned;
  }

  /** An event of the account as replay sees it; undefined when the account has no such message. */
  async kept(accountId: string, messageId: string): Promise<KeptEvent | undefined> {
    const [row] = await selectKept.run(this.db, { accountId, messageId });
    if (!row) return undefined;
    return {
      messageId: row.id,
      employeeId: row.employee_id,
      workflowId: row.workflow_id,
      event: row.event ?? undefined,
      receivedAt: row.received_at,
      replayOf: row.replay_of ?? undefined,
      queuedAt: row.queued_at ?? undefined,
      unsettled: row.unsettled,
      sealed: row.sealed ?? undefined,
    };
  }

  async markQueued(messageId: string): Promise<void> {
    await markQueued.run(this.db, { messageId });
  }
}
