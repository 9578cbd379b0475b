import type pg from 'pg';
import { statement, type Statement } from './postgres/statement';

export type UsageGroup = 'employee' | 'event' | 'day' | 'message';

/** Sums over charges: events, credits, tokens, runtime, and the agent loop's turns and tool calls. */
export interface UsageTotals {
  events: number;
  credits: number;
  token_credits: number;
  runtime_credits: number;
  tokens_in: number;
  tokens_out: number;
  runtime_ms: number;
  /** Model turns and tool calls (0 for events before the agent loop, and for inbox delivery). */
  model_turns: number;
  tool_calls: number;
}

/** One group's sums over a period. `event` groups use '' for "no label". */
export interface UsageRow extends UsageTotals {
  group: string;
  /** The earliest charge (or hour) in the group: the per-message report's order. */
  first_at: Date;
}

/**
 * The period [from, to) in three layers: whole UTC days [daysFrom, daysTo) from usage_daily, the
 * whole hours around them [hoursFrom, daysFrom) and [daysTo, hoursTo) from usage_hourly, and the
 * partial hours at either end [from, hoursFrom) and [hoursTo, to) from the charge postings.
 */
interface UsageParams {
  accountId: string;
  from: Date;
  to: Date;
  hoursFrom: Date;
  hoursTo: Date;
  daysFrom: Date;
  daysTo: Date;
}

const SUMS = `sum(events)::bigint AS events, sum(credits)::bigint AS credits, sum(token_credits)::bigint AS token_credits,
  sum(runtime_credits)::bigint AS runtime_credits, sum(tokens_in)::bigint AS tokens_in, sum(tokens_out)::bigint AS tokens_out,
  sum(runtime_ms)::bigint AS runtime_ms, sum(model_turns)::bigint AS model_turns, sum(tool_calls)::bigint AS tool_calls, min(at) AS first_at`;

/** The charges of the period's partial hours, shaped like rollup rows. */
const EDGE_CHARGES = `SELECT employee_id, coalesce(event, '') AS event, message_id, at, coalesce(events, 1) AS events, -credits AS credits,
    coalesce(token_credits, 0) AS token_credits, coalesce(runtime_credits, 0) AS runtime_credits, coalesce(tokens_in, 0) AS tokens_in,
    coalesce(tokens_out, 0) AS tokens_out, coalesce(runtime_ms, 0) AS runtime_ms, coalesce(model_turns, 0) AS model_turns,
    coalesce(tool_calls, 0) AS tool_calls
  FROM postings
  WHERE account_id = :accountId AND kind = 'charge'
    AND ((at >= :from AND at < :hoursFrom) OR (at >= :hoursTo AND at < :to))`;

/**
 * Usage grouped by `key`: whole days from usage_daily, whole hours from usage_hourly (at most 46 of
 * them), the partial hours at either end from the charge postings (at most two hours of them). Its
 * cost follows the length of the period and the number of groups, not the account's history.
 */
function groupedUsage(group: Exclude<UsageGroup, 'message'>, key: string): Statement<UsageParams, UsageRow> {
  return statement<UsageParams, UsageRow>(
    `usage_by_${group}`,
    `SELECT ${key} AS "group", ${SUMS}
     FROM (
       SELECT employee_id, event, day AS at, events, credits, token_credits, runtime_credits, tokens_in, tokens_out, runtime_ms,
              model_turns, tool_calls
       FROM usage_daily WHERE account_id = :accountId AND day >= :daysFrom AND day < :daysTo
       UNION ALL
       SELECT employee_id, event, hour AS at, events, credits, token_credits, runtime_credits, tokens_in, tokens_out, runtime_ms,
              model_turns, tool_calls
       FROM usage_hourly
       WHERE account_id = :accountId AND ((hour >= :hoursFrom AND hour < :daysFrom) OR (hour >= :daysTo AND hour < :hoursTo))
       UNION ALL
       SELECT employee_id, event, at, events, credits, token_credits, runtime_credits, tokens_in, tokens_out, runtime_ms,
              model_turns, tool_calls
       FROM (${EDGE_CHARGES}) edges
     ) usage
     GROUP BY 1`,
  );
}

const BY_GROUP: Record<UsageGroup, Statement<UsageParams, UsageRow>> = {
  employee: groupedUsage('employee', 'employee_id::text'),
  event: groupedUsage('event', 'event'),
  day: groupedUsage('day', `to_char(date_trunc('day', at, 'UTC') AT TIME ZONE 'UTC', 'YYYY-MM-DD')`),
  // One row per charge: the period's postings are the answer, so they are read whole.
  message: statement<UsageParams, UsageRow>(
    'usage_by_message',
    `SELECT message_id::text AS "group", coalesce(events, 1)::bigint AS events, -credits AS credits, coalesce(token_credits, 0) AS token_credits,
            coalesce(runtime_credits, 0) AS runtime_credits, coalesce(tokens_in, 0) AS tokens_in, coalesce(tokens_out, 0) AS tokens_out,
            coalesce(runtime_ms, 0) AS runtime_ms, coalesce(model_turns, 0)::bigint AS model_turns, coalesce(tool_calls, 0)::bigint AS tool_calls,
            at AS first_at
     FROM postings
     WHERE account_id = :accountId AND kind = 'charge' AND at >= :from AND at < :to`,
  ),
};

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

const ceilTo = (t: Date, unit: number) => new Date(Math.ceil(t.getTime() / unit) * unit);
const floorTo = (t: Date, unit: number) => new Date(Math.floor(t.getTime() / unit) * unit);

/** Reads what accounts were charged, summed per group over a period, for reports and the usage API. */
export class UsageStore {
  constructor(private readonly db: pg.Pool) {}

  /** Charges with `at` in [from, to), grouped. */
  async usage(accountId: string, group: UsageGroup, from: Date, to: Date): Promise<UsageRow[]> {
    let hoursFrom = ceilTo(from, HOUR_MS);
    let hoursTo = floorTo(to, HOUR_MS);
    // No whole hour inside the period: all of it comes from the postings.
    if (hoursFrom >= hoursTo) hoursFrom = hoursTo = to;
    // UTC days are whole hours too, so the day layer lies within the hour layer.
    let daysFrom = ceilTo(hoursFrom, DAY_MS);
    let daysTo = floorTo(hoursTo, DAY_MS);
    if (daysFrom >= daysTo) daysFrom = daysTo = hoursTo;
    return BY_GROUP[group].run(this.db, { accountId, from, to, hoursFrom, hoursTo, daysFrom, daysTo });
  }
}
