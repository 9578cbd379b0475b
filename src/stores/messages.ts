import type pg from 'pg';
import type { Posting } from '../domain/billing';
import { isUuid } from './accounts';
import { statement } from './postgres/statement';

/** What the service keeps of an accepted event: enough to find its workflow and its charge. */
export interface MessageRecord {
  messageId: string;
  accountId: string;
  employeeId: string;
  workflowId: string;
  event?: string;
  receivedAt: Date;
  /** The first original event this one replays. */
  replayOf?: string;
  /** Set while the employee's queue workflow holds the event (ordered mode). */
  queuedAt?: Date;
  /** Batch mode: the first message of the batch this event ran in (its charge is posted there). */
  batchOf?: string;
  /** Its reservation is still open: it has not settled yet. */
  unsettled: boolean;
  /** The event's charge, once it settled. */
  charge?: Posting;
}

/** A message row with its charge and whether its reservation is still open. */
interface MessageRow {
  id: string;
  account_id: string;
  employee_id: string;
  workflow_id: string;
  event: string | null;
  received_at: Date;
  replay_of: string | null;
  queued_at: Date | null;
  batch_of: string | null;
  unsettled: boolean;
  charge_at: Date | null;
  charge_credits: number | null;
}

/** What every message read selects: the record, its charge, and whether it has settled. */
const MESSAGE_WITH_CHARGE = `SELECT m.*, p.at AS charge_at, p.credits AS charge_credits,
     EXISTS (SELECT 1 FROM open_reservations r WHERE r.account_id = m.account_id AND r.message_id = m.id) AS unsettled
   FROM messages m
   LEFT JOIN postings p ON p.account_id = m.account_id AND p.message_id = m.id AND p.kind = 'charge'`;

/** The record and its charge in one lookup; another account's message is not found. */
const selectMessage = statement<{ id: string; accountId: string }, MessageRow>(
  'messages_select',
  `${MESSAGE_WITH_CHARGE}
   WHERE m.id = :id AND m.account_id = :accountId`,
);

/** Filters of an account's event list; each one absent means "any". */
export interface MessageFilter {
  employeeId?: string;
  event?: string;
  from?: Date;
  to?: Date;
  limit: number;
}

/** An account's events newest first, with their charges, through messages_by_account_time. */
const listMessages = statement<{ accountId: string; employeeId?: string; event?: string; from?: Date; to?: Date; limit: number }, MessageRow>(
  'messages_list',
  `${MESSAGE_WITH_CHARGE}
   WHERE m.account_id = :accountId
     AND (:employeeId::uuid IS NULL OR m.employee_id = :employeeId::uuid)
     AND (:event::text IS NULL OR m.event = :event::text)
     AND (:from::timestamptz IS NULL OR m.received_at >= :from::timestamptz)
     AND (:to::timestamptz IS NULL OR m.received_at < :to::timestamptz)
   ORDER BY m.received_at DESC, m.id
   LIMIT :limit`,
);

function toRecord(row: MessageRow): MessageRecord {
  return {
    messageId: row.id,
    accountId: row.account_id,
    employeeId: row.employee_id,
    workflowId: row.workflow_id,
    event: row.event ?? undefined,
    receivedAt: row.received_at,
    replayOf: row.replay_of ?? undefined,
    queuedAt: row.queued_at ?? undefined,
    batchOf: row.batch_of ?? undefined,
    unsettled: row.unsettled,
    charge:
      row.charge_at && row.charge_credits !== null
        ? { id: '', kind: 'charge', at: row.charge_at.toISOString(), credits: Number(row.charge_credits), messageId: row.id }
        : undefined,
  };
}

const selectAccountOf = statement<{ id: string }, { account_id: string }>('messages_account_of', `SELECT account_id FROM messages WHERE id = :id`);

const linkBatch = statement<{ accountId: string; batchOf: string; messageIds: string[] }, never>(
  'messages_link_batch',
  `UPDATE messages SET batch_of = :batchOf::uuid WHERE account_id = :accountId AND id = ANY (:messageIds::uuid[])`,
);

/** Accepted events, written by the ledger's reservation (one statement at ingest), read by the status API. */
export class MessageStore {
  constructor(private readonly db: pg.Pool) {}

  /** Records the batch each message ran in (idempotent: a retry writes the same). */
  async linkBatch(accountId: string, batchOf: string, messageIds: string[]): Promise<void> {
    await linkBatch.run(this.db, { accountId, batchOf, messageIds });
  }

  /** The account an event belongs to (operators address events by message id alone). */
  async accountOf(messageId: string): Promise<string | undefined> {
    if (!isUuid(messageId)) return undefined;
    const [row] = await selectAccountOf.run(this.db, { id: messageId });
    return row?.account_id;
  }

  async get(accountId: string, messageId: string): Promise<MessageRecord | undefined> {
    if (!isUuid(messageId) || !isUuid(accountId)) return undefined;
    const [row] = await selectMessage.run(this.db, { id: messageId, accountId });
    return row && toRecord(row);
  }

  /** The account's events matching `filter`, newest first; an employee id that is not a uuid matches nothing. */
  async list(accountId: string, filter: MessageFilter): Promise<MessageRecord[]> {
    if (!isUuid(accountId) || (filter.employeeId !== undefined && !isUuid(filter.employeeId))) return [];
    return (await listMessages.run(this.db, { accountId, ...filter })).map(toRecord);
  }
}
