import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Posting, PriceUsed } from '../../workflows/types';
import { keys } from './keys';

export type { Posting, PriceUsed } from '../../workflows/types';

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
}

export interface ReserveInput {
  accountId: string;
  messageId: string;
  employeeId: string;
  event?: string;
  workflowId: string;
  credits: number;
}

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

/** Counters and postings read in one transaction, so they describe the same instant. */
export interface LedgerSnapshot {
  balance: number;
  reserved: number;
  postings: Posting[];
  open: Array<{ messageId: string; since: number }>;
}

/**
 * How long an event's per-message records outlive it: the charge record from the charge, the
 * reservation and its released marker from the release. They only make the scripts idempotent (an
 * activity retry, a re-run after a worker crash, a repair finds them and posts nothing), and each of
 * those happens while Temporal still holds the workflow: retries within minutes, a reset only within
 * the namespace's retention (24 h on the dev server; keep it well under 30 days), and reconcile only
 * over workflows Temporal lists. The ledger list never expires and stays the record: verify and the
 * reports read only the list, reconcile looks a charge up in its snapshot of the list and asks the
 * record only about one posted since, so an expired record changes none of their answers. The status
 * API's message record (7 days) expires first. An open reservation never expires: its record holds
 * the amount a late release (reconcile) gives back.
 */
export const LEDGER_RECORD_TTL_SECONDS = 30 * 24 * 3600;

/**
 * Releases the event's reservation once: nothing when none was made or it was released already.
 * The amount is the one reserved, read from the reservation, whatever the configuration says now.
 * Expects KEYS r (reserved), l (ledger), h (reservation), x (released marker), o (open set).
 */
const RELEASE_ONCE = `
local function release(r, l, h, x, o, template, messageId)
  local held = redis.call('GET', h)
  if not held or redis.call('EXISTS', x) == 1 then return 0 end
  local amount = tonumber(cjson.decode(held).reserved)
  local posting = cjson.decode(template)
  posting.reserved = -amount
  local encoded = cjson.encode(posting)
  redis.call('DECRBY', r, amount)
  redis.call('RPUSH', l, encoded)
  -- The marker is set last, so it never expires before the reservation: no second release.
  redis.call('EXPIRE', h, ${LEDGER_RECORD_TTL_SECONDS})
  redis.call('SET', x, encoded, 'EX', ${LEDGER_RECORD_TTL_SECONDS})
  redis.call('ZREM', o, messageId)
  return 1
end
`;

/** Refuses (0) unless balance − reserved covers the estimate; else holds it, all in one step. */
const RESERVE = `
local balance = tonumber(redis.call('GET', KEYS[1]) or '0')
local reserved = tonumber(redis.call('GET', KEYS[2]) or '0')
if redis.call('EXISTS', KEYS[4]) == 1 then return {1, tostring(balance), tostring(reserved)} end
local estimate = tonumber(ARGV[1])
if balance - reserved < estimate then return {0, tostring(balance), tostring(reserved)} end
reserved = redis.call('INCRBY', KEYS[2], estimate)
redis.call('RPUSH', KEYS[3], ARGV[2])
redis.call('SET', KEYS[4], ARGV[2])
redis.call('ZADD', KEYS[5], ARGV[3], ARGV[4])
return {1, tostring(balance), tostring(reserved)}
`;

const RELEASE = `${RELEASE_ONCE}
return release(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], ARGV[1], ARGV[2])
`;

/**
 * The event's charge is keyed by its message id: the first call posts it, every later call (an
 * activity retry, a re-run after a crash, a repair) finds the record and posts nothing. The same
 * step releases the reservation. ARGV[1] empty: nothing to charge (a failed event), release only.
 */
const SETTLE = `${RELEASE_ONCE}
local posted = 0
local stored = redis.call('GET', KEYS[4])
if not stored and ARGV[1] ~= '' then
  redis.call('DECRBY', KEYS[1], ARGV[1])
  redis.call('RPUSH', KEYS[3], ARGV[2])
  redis.call('SET', KEYS[4], ARGV[2], 'EX', ${LEDGER_RECORD_TTL_SECONDS})
  stored = ARGV[2]
  posted = 1
end
local released = release(KEYS[2], KEYS[3], KEYS[5], KEYS[6], KEYS[7], ARGV[3], ARGV[4])
return {posted, stored or '', redis.call('GET', KEYS[1]) or '0', redis.call('GET', KEYS[2]) or '0', released}
`;

const TOP_UP = `
local balance = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('RPUSH', KEYS[2], ARGV[2])
return tostring(balance)
`;

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
  };
}

/**
 * Credit balances, reservations and the append-only ledger behind them. Every change is one Lua
 * script over keys of one account (one hash tag, one cluster slot), so concurrent API processes and
 * workers never interleave inside a change, and the counters always equal the sums of the postings.
 */
export class Ledger {
  constructor(private readonly redis: Redis) {}

  async topUp(accountId: string, amount: number): Promise<{ balance: number; posting: Posting }> {
    const posting: Posting = { id: randomUUID(), kind: 'topup', at: new Date().toISOString(), credits: amount };
    const balance = await this.redis.eval(TOP_UP, 2, keys.balance(accountId), keys.ledger(accountId), amount, JSON.stringify(posting));
    return { balance: Number(balance), posting };
  }

  /** Holds `credits` for one event if the account can cover it; `ok` false means nothing changed. */
  async reserve(input: ReserveInput): Promise<{ ok: boolean; balance: number; reserved: number }> {
    const now = new Date();
    const posting: Posting = {
      id: randomUUID(),
      kind: 'reserve',
      at: now.toISOString(),
      credits: 0,
      reserved: input.credits,
      messageId: input.messageId,
      employeeId: input.employeeId,
      event: input.event,
      workflowId: input.workflowId,
    };
    const a = input.accountId;
    const [ok, balance, reserved] = (await this.redis.eval(
      RESERVE,
      5,
      keys.balance(a),
      keys.reserved(a),
      keys.ledger(a),
      keys.reservation(a, input.messageId),
      keys.openReservations(a),
      input.credits,
      JSON.stringify(posting),
      now.getTime(),
      input.messageId,
    )) as [number, string, string];
    return { ok: ok === 1, balance: Number(balance), reserved: Number(reserved) };
  }

  /** Releases an event's reservation without charging (its workflow never started, or met a duplicate). */
  async release(accountId: string, messageId: string, reason: string): Promise<boolean> {
    const a = accountId;
    const released = await this.redis.eval(
      RELEASE,
      5,
      keys.reserved(a),
      keys.ledger(a),
      keys.reservation(a, messageId),
      keys.released(a, messageId),
      keys.openReservations(a),
      JSON.stringify(releasePosting(messageId, reason)),
      messageId,
    );
    return released === 1;
  }

  /**
   * Settles an event: posts its charge once (none when `charge` is absent: a failed event that
   * consumed nothing) and releases its reservation once, in one step.
   */
  async settle(accountId: string, messageId: string, charge: Posting | undefined, reason: string): Promise<SettleResult> {
    const a = accountId;
    const [posted, stored, balance, reserved, released] = (await this.redis.eval(
      SETTLE,
      7,
      keys.balance(a),
      keys.reserved(a),
      keys.ledger(a),
      keys.charge(a, messageId),
      keys.reservation(a, messageId),
      keys.released(a, messageId),
      keys.openReservations(a),
      charge ? -charge.credits : '',
      charge ? JSON.stringify(charge) : '',
      JSON.stringify(releasePosting(messageId, reason)),
      messageId,
    )) as [number, string, string, string, number];
    return {
      posted: posted === 1,
      posting: stored ? (JSON.parse(stored) as Posting) : undefined,
      released: released === 1,
      balance: Number(balance),
      reserved: Number(reserved),
    };
  }

  /** The balance and the reserved credits, in one MGET: no postings read. */
  async counters(accountId: string): Promise<{ balance: number; reserved: number }> {
    const [balance, reserved] = await this.redis.mget(keys.balance(accountId), keys.reserved(accountId));
    return { balance: Number(balance ?? 0), reserved: Number(reserved ?? 0) };
  }

  async balance(accountId: string): Promise<number> {
    return Number((await this.redis.get(keys.balance(accountId))) ?? 0);
  }

  /** Credits held for events in flight. */
  async reserved(accountId: string): Promise<number> {
    return Number((await this.redis.get(keys.reserved(accountId))) ?? 0);
  }

  async postings(accountId: string): Promise<Posting[]> {
    const raw = await this.redis.lrange(keys.ledger(accountId), 0, -1);
    return raw.map((r) => JSON.parse(r) as Posting);
  }

  /** Balance, reserved, the postings and the open reservations, read atomically (MULTI on one slot). */
  async snapshot(accountId: string): Promise<LedgerSnapshot> {
    const replies = await this.redis
      .multi()
      .get(keys.balance(accountId))
      .get(keys.reserved(accountId))
      .lrange(keys.ledger(accountId), 0, -1)
      .zrange(keys.openReservations(accountId), '0', '-1', 'WITHSCORES')
      .exec();
    if (!replies) throw new Error('ledger snapshot transaction was aborted');
    for (const [err] of replies) if (err) throw err;
    const [balance, reserved, postings, open] = replies.map(([, value]) => value) as [string | null, string | null, string[], string[]];
    const pairs: Array<{ messageId: string; since: number }> = [];
    for (let i = 0; i < open.length; i += 2) pairs.push({ messageId: open[i], since: Number(open[i + 1]) });
    return { balance: Number(balance ?? 0), reserved: Number(reserved ?? 0), postings: postings.map((p) => JSON.parse(p) as Posting), open: pairs };
  }

  /** True while the event's reservation is open: made and not yet released. */
  async isReserved(accountId: string, messageId: string): Promise<boolean> {
    return (await this.redis.zscore(keys.openReservations(accountId), messageId)) !== null;
  }

  /** The charge posting of an event, for LEDGER_RECORD_TTL_SECONDS after it was posted. */
  async chargeFor(accountId: string, messageId: string): Promise<Posting | undefined> {
    const raw = await this.redis.get(keys.charge(accountId, messageId));
    return raw ? (JSON.parse(raw) as Posting) : undefined;
  }

  /** The reserve posting of an event: while it is open, and LEDGER_RECORD_TTL_SECONDS after its release. */
  async reservationFor(accountId: string, messageId: string): Promise<Posting | undefined> {
    const raw = await this.redis.get(keys.reservation(accountId, messageId));
    return raw ? (JSON.parse(raw) as Posting) : undefined;
  }
}

/** The script fills in `reserved` with the amount actually held. */
function releasePosting(messageId: string, reason: string): Posting {
  return { id: randomUUID(), kind: 'release', at: new Date().toISOString(), credits: 0, reserved: 0, messageId, reason };
}
