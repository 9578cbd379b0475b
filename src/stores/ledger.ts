import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { keys } from './keys';

export interface Price {
  creditsPer1kTokens: number;
  creditsPerRuntimeSecond: number;
}

/** One line of an account's append-only ledger. `credits` is signed: top-ups add, charges subtract. */
export interface Posting {
  id: string;
  kind: 'topup' | 'charge';
  at: string;
  credits: number;
  messageId?: string;
  employeeId?: string;
  event?: string;
  tokensIn?: number;
  tokensOut?: number;
  runtimeMs?: number;
  tokenCredits?: number;
  runtimeCredits?: number;
  price?: Price;
}

export interface ChargeInput {
  accountId: string;
  messageId: string;
  employeeId: string;
  event?: string;
  tokensIn: number;
  tokensOut: number;
  runtimeMs: number;
  price: Price;
}

/**
 * Token credits: per started 1,000 tokens (prompt + completion). Runtime credits: per started second.
 * Rounding up means a tiny event still costs something, and no event is ever free by rounding.
 */
export function priceEvent(usage: { tokensIn: number; tokensOut: number; runtimeMs: number }, price: Price) {
  const tokenCredits = Math.ceil((usage.tokensIn + usage.tokensOut) / 1000) * price.creditsPer1kTokens;
  const runtimeCredits = Math.ceil(Math.max(usage.runtimeMs, 1) / 1000) * price.creditsPerRuntimeSecond;
  return { tokenCredits, runtimeCredits, credits: tokenCredits + runtimeCredits };
}

/**
 * The charge is keyed by the event: the first call posts, every later call (an activity retry, a
 * re-run after a crash) finds the record and returns it. Balance, ledger and record change in one script.
 */
const CHARGE_ONCE = `
local existing = redis.call('GET', KEYS[3])
if existing then return {0, existing, redis.call('GET', KEYS[1]) or '0'} end
local balance = redis.call('DECRBY', KEYS[1], ARGV[1])
redis.call('RPUSH', KEYS[2], ARGV[2])
redis.call('SET', KEYS[3], ARGV[2])
return {1, ARGV[2], tostring(balance)}
`;

const TOP_UP = `
local balance = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('RPUSH', KEYS[2], ARGV[2])
return tostring(balance)
`;

/** Credit balances and the append-only ledger behind them. */
export class Ledger {
  constructor(private readonly redis: Redis) {}

  async topUp(accountId: string, amount: number): Promise<{ balance: number; posting: Posting }> {
    const posting: Posting = { id: randomUUID(), kind: 'topup', at: new Date().toISOString(), credits: amount };
    const balance = await this.redis.eval(TOP_UP, 2, keys.balance(accountId), keys.ledger(accountId), amount, JSON.stringify(posting));
    return { balance: Number(balance), posting };
  }

  async charge(input: ChargeInput): Promise<{ posted: boolean; posting: Posting; balance: number }> {
    const { tokenCredits, runtimeCredits, credits } = priceEvent(input, input.price);
    const posting: Posting = {
      id: randomUUID(),
      kind: 'charge',
      at: new Date().toISOString(),
      credits: -credits,
      messageId: input.messageId,
      employeeId: input.employeeId,
      event: input.event,
      tokensIn: input.tokensIn,
      tokensOut: input.tokensOut,
      runtimeMs: input.runtimeMs,
      tokenCredits,
      runtimeCredits,
      price: input.price,
    };
    const [posted, stored, balance] = (await this.redis.eval(
      CHARGE_ONCE,
      3,
      keys.balance(input.accountId),
      keys.ledger(input.accountId),
      keys.charge(input.accountId, input.messageId),
      credits,
      JSON.stringify(posting),
    )) as [number, string, string];
    return { posted: posted === 1, posting: JSON.parse(stored) as Posting, balance: Number(balance) };
  }

  async balance(accountId: string): Promise<number> {
    return Number((await this.redis.get(keys.balance(accountId))) ?? 0);
  }

  async postings(accountId: string): Promise<Posting[]> {
    const raw = await this.redis.lrange(keys.ledger(accountId), 0, -1);
    return raw.map((r) => JSON.parse(r) as Posting);
  }

  async chargeFor(accountId: string, messageId: string): Promise<Posting | undefined> {
    const raw = await this.redis.get(keys.charge(accountId, messageId));
    return raw ? (JSON.parse(raw) as Posting) : undefined;
  }
}
