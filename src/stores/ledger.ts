import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Posting, PostingKind, PriceUsed } from '../domain/billing';
import { isUuid } from './accounts';
import { EventIntake, type IntakeInput } from './intake';
import { statement } from './postgres/statement';

/** What an event consumed and what it cost, priced already (src/billing/pricing.ts). */
export interface ChargeInput {
  accountId: string;
  messageId: string;
  employeeId: string;
  event?: string;
  tokensIn: number;
  tokensOut: number;
  runtimeMs: number;
  model?: string;
  tokenCredits: number;
  runtimeCredits: number;
  price: PriceUsed;
  modelTurns?: number;
  toolCalls?: number;
  /** A batch run: how many messages its charge stands for. */
  events?: number;
}

/** A reservation without an Idempotency-Key window or a kept payload (what EventIntake.accept takes beyond it). */
export type ReserveInput = Pick<IntakeInput, 'accountId' | 'messageId' | 'employeeId' | 'event' | 'workflowId' | 'credits' | 'at'>;

export interface SettleResult {
  /** False when the event's charge was already posted (a retry, a re-run, a second repair). */
  posted: boolean;
  /** The charge as the ledger holds it; undefined when the event was not charged (it failed). */
  posting?: Posting;
  /** True when this call released the event's reservation. */
  released: boolean;
  balance: number;
  reserved: number;
}

export interface OpenReservation {
  messageId: string;
  workflowId: string;
  credits: number;
  since: Date;
}

/** What `credits verify` checks, computed by the database over the account's postings. */
export interface LedgerAudit {
  balance: number;
  reserved: number;
  ledgerBalance: number;
  ledgerReserved: number;
  postings: number;
  openReservations: number;
  /** Charged credits summed from the hourly rollup and from the charge postings: equal when the rollup is whole. */
  rollupCredits: number;
  dailyRollupCredits: number;
  chargedCredits: number;
  /** Messages with more than one posting of a kind: impossible under the unique index, checked anyway. */
  duplicated: Array<{ messageId: string; kind: PostingKind; count: number }>;
  /** Messages whose open reservation disagrees with their reserve and release postings. */
  reservationMismatches: Array<{ messageId: string; problem: string }>;
}

interface PostingRow {
  id: string;
  kind: PostingKind;
  at: Date | string;
  credits: number;
  reserved: number;
  message_id: string | null;
  employee_id: string | null;
  event: string | null;
  workflow_id: string | null;
  tokens_in: number | null;
  tokens_out: number | null;
  runtime_ms: number | null;
  token_credits: number | null;
  runtime_credits: number | null;
  price: PriceUsed | null;
  model: string | null;
  reason: string | null;
  repaired_at: Date | string | null;
  reference: string | null;
  model_turns: number | null;
  tool_calls: number | null;
  events: number | null;
}

const iso = (value: Date | string) => new Date(value).toISOString();

/** A row as the ledger's JSON shape; also reads `to_jsonb(postings)`, whose times are strings. */
function toPosting(row: PostingRow): Posting {
  const posting: Posting = { id: row.id, kind: row.kind, at: iso(row.at), credits: Number(row.credits) };
  if (row.kind !== 'topup' && row.kind !== 'charge') posting.reserved = Number(row.reserved);
  if (row.kind === 'reserve') posting.credits = 0;
  const optional: Array<[keyof Posting, unknown]> = [
    ['messageId', row.message_id],
    ['employeeId', row.employee_id],
    ['event', row.event],
    ['workflowId', row.workflow_id],
    ['tokensIn', row.tokens_in],
    ['tokensOut', row.tokens_out],
    ['runtimeMs', row.runtime_ms],
    ['tokenCredits', row.token_credits],
    ['runtimeCredits', row.runtime_credits],
    ['price', row.price],
    ['model', row.model],
    ['reason', row.reason],
    ['repairedAt', row.repaired_at && iso(row.repaired_at)],
    ['reference', row.reference],
    ['modelTurns', row.model_turns],
    ['toolCalls', row.tool_calls],
    ['events', row.events],
  ];
  for (const [key, value] of optional) {
    if (value !== null && value !== undefined)
      (posting as unknown as Record<string, unknown>)[key] = typeof value === 'string' || typeof value === 'object' ? value : Number(value);
  }
  return posting;
}

/**
 * A top-up: the posting and the balance in one statement. With a reference, the same reference
 * twice adds once (the unique index makes the second insert a no-op, and the balance moves only
 * with an inserted posting).
 */
const topUp = statement<
  { id: string; accountId: string; at: Date; credits: number; reference?: string },
  { added: boolean; balance: number; posting: PostingRow | null }
>(
  'ledger_top_up',
  `WITH posting AS (
     INSERT INTO postings (id, account_id, kind, at, credits, reference)
     VALUES (:id, :accountId, 'topup', :at, :credits, :reference)
     ON CONFLICT DO NOTHING
     RETURNING *
   ), balance AS (
     UPDATE credit_balances SET balance = balance + (SELECT credits FROM posting)
     WHERE account_id = :accountId AND EXISTS (SELECT 1 FROM posting)
     RETURNING balance
   )
   SELECT EXISTS (SELECT 1 FROM posting) AS added,
          coalesce((SELECT balance FROM balance), (SELECT balance FROM credit_balances WHERE account_id = :accountId)) AS balance,
          coalesce((SELECT to_jsonb(p) FROM posting p),
                   (SELECT to_jsonb(p) FROM postings p WHERE p.account_id = :accountId AND p.reference = :reference)) AS posting`,
);

/**
 * Releases an event's reservation once, without charging: deleting the open reservation is what
 * makes it once (a second release finds nothing to delete). `forget` also drops the message
 * record and the Idempotency-Key window it claimed: the event was never accepted (its workflow did
 * not start, or met a duplicate), so a retry of its key is processed as the event.
 */
const release = statement<{ postingId: string; accountId: string; messageId: string; at: Date; reason: string; forget: boolean }, { released: number }>(
  'ledger_release',
  `WITH released AS (
     DELETE FROM open_reservations WHERE account_id = :accountId AND message_id = :messageId
     RETURNING credits
   ), posted AS (
     INSERT INTO postings (id, account_id, kind, at, reserved, message_id, reason)
     SELECT :postingId::uuid, :accountId::uuid, 'release', :at::timestamptz, -credits, :messageId::uuid, :reason::text FROM released
   ), forgotten AS (
     DELETE FROM messages WHERE id = :messageId AND :forget::boolean
   ), unclaimed AS (
     DELETE FROM idempotency_windows WHERE message_id = :messageId AND :forget::boolean
   ), balance AS (
     UPDATE credit_balances SET reserved = reserved - (SELECT credits FROM released)
     WHERE account_id = :accountId AND EXISTS (SELECT 1 FROM released)
   )
   SELECT count(*)::int AS released FROM released`,
);

/**
 * Adds the charge posted in `charged` to a usage rollup: the row of its account, hour (or UTC day),
 * employee and event label, created by the first charge and summed into by the next.
 */
function rollUp(table: 'usage_hourly' | 'usage_daily', unit: 'hour' | 'day'): string {
  return `     INSERT INTO ${table} AS u (account_id, ${unit}, employee_id, event, events, credits, token_credits, runtime_credits,
                                tokens_in, tokens_out, runtime_ms, model_turns, tool_calls)
     SELECT account_id, date_trunc('${unit}', at, 'UTC'), employee_id, coalesce(event, ''), coalesce(events, 1), -credits,
            coalesce(token_credits, 0), coalesce(runtime_credits, 0), coalesce(tokens_in, 0), coalesce(tokens_out, 0), coalesce(runtime_ms, 0),
            coalesce(model_turns, 0), coalesce(tool_calls, 0)
     FROM charged
     ON CONFLICT (account_id, ${unit}, employee_id, event) DO UPDATE SET
       events = u.events + excluded.events, credits = u.credits + excluded.credits, token_credits = u.token_credits + excluded.token_credits,
       runtime_credits = u.runtime_credits + excluded.runtime_credits, tokens_in = u.tokens_in + excluded.tokens_in,
       tokens_out = u.tokens_out + excluded.tokens_out, runtime_ms = u.runtime_ms + excluded.runtime_ms,
       model_turns = u.model_turns + excluded.model_turns, tool_calls = u.tool_calls + excluded.tool_calls`;
}

/**
 * Settles an event in one statement: posts its charge once (the unique index on message and kind
 * makes a retry, a re-run or a second repair post nothing), adds it to the hourly and daily rollups, releases
 * its reservation once, and moves both counters by exactly what was posted. Returns the charge as
 * the ledger holds it, whoever posted it.
 */
const settle = statement<
  {
    accountId: string;
    messageId: string;
    charge: boolean;
    chargeId?: string;
    at?: Date;
    credits?: number;
    employeeId?: string;
    event?: string;
    tokensIn?: number;
    tokensOut?: number;
    runtimeMs?: number;
    tokenCredits?: number;
    runtimeCredits?: number;
    price?: string;
    model?: string;
    repairedAt?: Date;
    modelTurns?: number;
    toolCalls?: number;
    events?: number;
    releaseId: string;
    now: Date;
    reason: string;
  },
  { posted: number; released: number; balance: number | null; reserved: number | null; charge: PostingRow | null }
>(
  'ledger_settle',
  `WITH charged AS (
     INSERT INTO postings (id, account_id, kind, at, credits, message_id, employee_id, event, tokens_in, tokens_out,
                           runtime_ms, token_credits, runtime_credits, price, model, repaired_at, model_turns, tool_calls, events)
     SELECT :chargeId::uuid, :accountId::uuid, 'charge', :at::timestamptz, :credits::bigint, :messageId::uuid, :employeeId::uuid,
            :event::text, :tokensIn::bigint, :tokensOut::bigint, :runtimeMs::bigint, :tokenCredits::bigint, :runtimeCredits::bigint,
            :price::jsonb, :model::text, :repairedAt::timestamptz, :modelTurns::integer, :toolCalls::integer, :events::integer
     WHERE :charge::boolean
     ON CONFLICT DO NOTHING
     RETURNING *
   ), released AS (
     DELETE FROM open_reservations WHERE account_id = :accountId AND message_id = :messageId
     RETURNING credits
   ), release_posted AS (
     INSERT INTO postings (id, account_id, kind, at, reserved, message_id, reason)
     SELECT :releaseId::uuid, :accountId::uuid, 'release', :now::timestamptz, -credits, :messageId::uuid, :reason::text FROM released
   ), rolled_up AS (
${rollUp('usage_hourly', 'hour')}
   ), rolled_up_daily AS (
${rollUp('usage_daily', 'day')}
   ), balance AS (
     UPDATE credit_balances SET
       balance = balance + coalesce((SELECT credits FROM charged), 0),
       reserved = reserved - coalesce((SELECT credits FROM released), 0)
     WHERE account_id = :accountId
     RETURNING balance, reserved
   )
   SELECT (SELECT count(*) FROM charged)::int AS posted,
          (SELECT count(*) FROM released)::int AS released,
          (SELECT balance FROM balance) AS balance,
          (SELECT reserved FROM balance) AS reserved,
          coalesce((SELECT to_jsonb(c) FROM charged c),
                   (SELECT to_jsonb(p) FROM postings p WHERE p.account_id = :accountId AND p.message_id = :messageId AND p.kind = 'charge')) AS charge`,
);

const counters = statement<{ accountId: string }, { balance: number; reserved: number }>(
  'ledger_counters',
  `SELECT balance, reserved FROM credit_balances WHERE account_id = :accountId`,
);

const postingsOfAccount = statement<{ accountId: string }, PostingRow>('ledger_postings', `SELECT * FROM postings WHERE account_id = :accountId ORDER BY seq`);

const chargesOfMessages = statement<{ accountId: string; messageIds: string[] }, PostingRow>(
  'ledger_charges_of_messages',
  `SELECT * FROM postings WHERE account_id = :accountId AND kind = 'charge' AND message_id = ANY (:messageIds::uuid[])`,
);

const postingOfMessage = statement<{ accountId: string; messageId: string; kind: PostingKind }, PostingRow>(
  'ledger_posting_of_message',
  `SELECT * FROM postings WHERE account_id = :accountId AND message_id = :messageId AND kind = :kind`,
);

const openReservations = statement<{ accountId: string; from: Date; to: Date }, { message_id: string; workflow_id: string; credits: number; since: Date }>(
  'ledger_open_reservations',
  `SELECT message_id, workflow_id, credits, since FROM open_reservations
   WHERE account_id = :accountId AND since >= :from AND since < :to ORDER BY since, message_id`,
);

const isReserved = statement<{ accountId: string; messageId: string }, { one: number }>(
  'ledger_is_reserved',
  `SELECT 1 AS one FROM open_reservations WHERE account_id = :accountId AND message_id = :messageId`,
);

/**
 * The audit behind `credits verify`, in the database: counters against the sums of the postings,
 * the rollup against the charges, and the open reservations against the reserve and release
 * postings. It reads the account's whole history on purpose: it proves the counters from scratch.
 */
const audit = statement<{ accountId: string }, LedgerAudit>(
  'ledger_audit',
  `WITH totals AS (
     SELECT coalesce(sum(credits), 0)::bigint AS ledger_balance, coalesce(sum(reserved), 0)::bigint AS ledger_reserved,
            count(*)::int AS postings, coalesce(-sum(credits) FILTER (WHERE kind = 'charge'), 0)::bigint AS charged_credits
     FROM postings WHERE account_id = :accountId
   ), per_message AS (
     SELECT message_id,
            count(*) FILTER (WHERE kind = 'reserve') AS reserves,
            count(*) FILTER (WHERE kind = 'release') AS releases,
            count(*) FILTER (WHERE kind = 'charge') AS charges
     FROM postings WHERE account_id = :accountId AND message_id IS NOT NULL GROUP BY message_id
   ), open AS (SELECT message_id FROM open_reservations WHERE account_id = :accountId)
   SELECT b.balance, b.reserved, t.ledger_balance AS "ledgerBalance", t.ledger_reserved AS "ledgerReserved", t.postings,
          t.charged_credits AS "chargedCredits",
          (SELECT count(*) FROM open)::int AS "openReservations",
          (SELECT coalesce(sum(credits), 0)::bigint FROM usage_hourly WHERE account_id = :accountId) AS "rollupCredits",
          (SELECT coalesce(sum(credits), 0)::bigint FROM usage_daily WHERE account_id = :accountId) AS "dailyRollupCredits",
          (SELECT coalesce(jsonb_agg(d), '[]') FROM (
             SELECT message_id AS "messageId", v.kind, v.n::int AS count
             FROM per_message, LATERAL (VALUES ('reserve', reserves), ('release', releases), ('charge', charges)) AS v(kind, n)
             WHERE v.n > 1) d) AS duplicated,
          (SELECT coalesce(jsonb_agg(m), '[]') FROM (
             SELECT message_id AS "messageId", 'released without a reservation' AS problem FROM per_message WHERE releases > 0 AND reserves = 0
             UNION ALL
             SELECT message_id, 'reserved but missing from the open reservations' FROM per_message
               WHERE reserves > 0 AND releases = 0 AND NOT EXISTS (SELECT 1 FROM open o WHERE o.message_id = per_message.message_id)
             UNION ALL
             SELECT message_id, 'released but still in the open reservations' FROM per_message
               WHERE releases > 0 AND EXISTS (SELECT 1 FROM open o WHERE o.message_id = per_message.message_id)
             UNION ALL
             SELECT message_id, 'open reservation without a reserve posting' FROM open
               WHERE NOT EXISTS (SELECT 1 FROM per_message p WHERE p.message_id = open.message_id AND p.reserves > 0)) m) AS "reservationMismatches"
   FROM credit_balances b, totals t WHERE b.account_id = :accountId`,
);

/** A top-up whose reference the account already used for another amount: nothing was added. */
export class TopUpReferenceConflictError extends Error {
  constructor(
    readonly accountId: string,
    readonly reference: string,
    readonly amount: number,
    /** The top-up already posted under this reference. */
    readonly existing: Posting,
  ) {
    super(
      `Reference ${reference} was already used on account ${accountId} for ${existing.credits} credits (posting ${existing.id}), ` +
        `not ${amount}; nothing added. Use a new reference for a different top-up.`,
    );
    this.name = 'TopUpReferenceConflictError';
  }
}

/** The charge posting of an event; its credits are negative, like every debit. */
export function chargePosting(input: ChargeInput, at = new Date()): Posting {
  return {
    id: randomUUID(),
    kind: 'charge',
    at: at.toISOString(),
    credits: -(input.tokenCredits + input.runtimeCredits),
    messageId: input.messageId,
    employeeId: input.employeeId,
    event: input.event,
    tokensIn: input.tokensIn,
    tokensOut: input.tokensOut,
    runtimeMs: input.runtimeMs,
    tokenCredits: input.tokenCredits,
    runtimeCredits: input.runtimeCredits,
    price: input.price,
    model: input.model,
    ...(input.modelTurns !== undefined ? { modelTurns: input.modelTurns, toolCalls: input.toolCalls ?? 0 } : {}),
    ...(input.events !== undefined && input.events > 1 ? { events: input.events } : {}),
  };
}

/**
 * Credit balances, reservations and the append-only ledger behind them, in PostgreSQL. Every change
 * is one statement that writes its postings and moves the counters together, so the counters always
 * equal the sums of the postings, and unique indexes make every retry of a change a no-op.
 */
export class Ledger {
  constructor(private readonly db: pg.Pool) {}

  /**
   * Adds credits; with a reference (an invoice number), the same reference twice adds once. The same
   * reference with another amount is refused (TopUpReferenceConflictError): it is a different top-up
   * under a reused reference, not a retry, and reporting it as a duplicate would lose it silently.
   */
  async topUp(accountId: string, amount: number, reference?: string): Promise<{ added: boolean; balance: number; posting: Posting }> {
    const params = { id: randomUUID(), accountId, at: new Date(), credits: amount, reference };
    let [row] = await topUp.run(this.db, params);
    // The same reference committed by a concurrent top-up after this statement's snapshot: the insert
    // waited for it and did nothing, but the snapshot cannot see its posting. The next statement can.
    if (!row.posting && reference !== undefined) [row] = await topUp.run(this.db, params);
    if (!row.posting) throw new Error(`account ${accountId} has no credit balance`);
    const posting = toPosting(row.posting);
    if (!row.added && posting.credits !== amount) throw new TopUpReferenceConflictError(accountId, reference ?? '', amount, posting);
    return { added: row.added, balance: Number(row.balance), posting };
  }

  /** Holds `credits` for one event if the account can cover it; `ok` false means nothing changed. (Ingest goes through EventIntake, which also claims the key's window.) */
  async reserve(input: ReserveInput): Promise<{ ok: boolean; balance: number; reserved: number }> {
    const held = await new EventIntake(this.db).accept(input);
    if (held.outcome === 'duplicate') throw new Error('a reservation without a key cannot be a duplicate');
    return { ok: held.outcome === 'reserved', balance: held.balance, reserved: held.reserved };
  }

  /** Releases the reservation of an event that was not accepted after all, and forgets its message record. */
  async releaseUnaccepted(accountId: string, messageId: string, reason: string): Promise<boolean> {
    return this.releaseOnce(accountId, messageId, reason, true);
  }

  /** Releases an event's reservation without charging (reconcile: its workflow is gone or closed). */
  async release(accountId: string, messageId: string, reason: string): Promise<boolean> {
    return this.releaseOnce(accountId, messageId, reason, false);
  }

  private async releaseOnce(accountId: string, messageId: string, reason: string, forget: boolean): Promise<boolean> {
    const [row] = await release.run(this.db, { postingId: randomUUID(), accountId, messageId, at: new Date(), reason, forget });
    return row.released === 1;
  }

  /**
   * Settles an event: posts its charge once (none when `charge` is absent: a failed event that
   * consumed nothing) and releases its reservation once, in one statement.
   */
  async settle(accountId: string, messageId: string, charge: Posting | undefined, reason: string): Promise<SettleResult> {
    const [row] = await settle.run(this.db, {
      accountId,
      messageId,
      charge: charge !== undefined,
      chargeId: charge?.id,
      at: charge ? new Date(charge.at) : undefined,
      credits: charge?.credits,
      employeeId: charge?.employeeId,
      event: charge?.event,
      tokensIn: charge?.tokensIn,
      tokensOut: charge?.tokensOut,
      runtimeMs: charge?.runtimeMs,
      tokenCredits: charge?.tokenCredits,
      runtimeCredits: charge?.runtimeCredits,
      price: charge?.price ? JSON.stringify(charge.price) : undefined,
      model: charge?.model,
      repairedAt: charge?.repairedAt ? new Date(charge.repairedAt) : undefined,
      modelTurns: charge?.modelTurns,
      events: charge?.events,
      toolCalls: charge?.toolCalls,
      releaseId: randomUUID(),
      now: new Date(),
      reason,
    });
    if (row.balance === null) throw new Error(`account ${accountId} has no credit balance`);
    return {
      posted: row.posted === 1,
      posting: row.charge ? toPosting(row.charge) : undefined,
      released: row.released === 1,
      balance: row.balance,
      reserved: row.reserved ?? 0,
    };
  }

  /** The balance and the reserved credits: one row read, no postings. */
  async counters(accountId: string): Promise<{ balance: number; reserved: number }> {
    const [row] = isUuid(accountId) ? await counters.run(this.db, { accountId }) : [];
    return row ?? { balance: 0, reserved: 0 };
  }

  async balance(accountId: string): Promise<number> {
    return (await this.counters(accountId)).balance;
  }

  /** Credits held for events in flight. */
  async reserved(accountId: string): Promise<number> {
    return (await this.counters(accountId)).reserved;
  }

  /** Every posting of the account in order: for audits and drills, not for any request path. */
  async postings(accountId: string): Promise<Posting[]> {
    return (await postingsOfAccount.run(this.db, { accountId })).map(toPosting);
  }

  /** The charge postings of these events, by message id (one indexed lookup for the lot). */
  async chargesFor(accountId: string, messageIds: string[]): Promise<Map<string, Posting>> {
    const rows = messageIds.length ? await chargesOfMessages.run(this.db, { accountId, messageIds }) : [];
    return new Map(rows.map((row) => [row.message_id!, toPosting(row)]));
  }

  /** The charge posting of an event, if it was charged. */
  async chargeFor(accountId: string, messageId: string): Promise<Posting | undefined> {
    return this.postingFor(accountId, messageId, 'charge');
  }

  /** The reserve posting of an event. */
  async reservationFor(accountId: string, messageId: string): Promise<Posting | undefined> {
    return this.postingFor(accountId, messageId, 'reserve');
  }

  private async postingFor(accountId: string, messageId: string, kind: PostingKind): Promise<Posting | undefined> {
    if (!isUuid(messageId)) return undefined;
    const [row] = await postingOfMessage.run(this.db, { accountId, messageId, kind });
    return row && toPosting(row);
  }

  /** Reservations still open that were made in [from, to), oldest first. */
  async openReservations(accountId: string, from: Date, to: Date): Promise<OpenReservation[]> {
    const rows = await openReservations.run(this.db, { accountId, from, to });
    return rows.map((r) => ({ messageId: r.message_id, workflowId: r.workflow_id, credits: r.credits, since: r.since }));
  }

  /** True while the event's reservation is open: made and not yet released. */
  async isReserved(accountId: string, messageId: string): Promise<boolean> {
    return (await isReserved.run(this.db, { accountId, messageId })).length > 0;
  }

  async audit(accountId: string): Promise<LedgerAudit | undefined> {
    const [row] = isUuid(accountId) ? await audit.run(this.db, { accountId }) : [];
    return row;
  }
}
