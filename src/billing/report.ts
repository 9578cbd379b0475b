import { z } from 'zod';
import { compare } from '../shared/text';
import type { UsageRow, UsageStore, UsageTotals } from '../stores/usage';

export const GROUP_BY = ['employee', 'event', 'day', 'message'] as const;
export type GroupBy = (typeof GROUP_BY)[number];

/** A report covers the last 30 days unless told otherwise. */
export const DEFAULT_PERIOD_MS = 30 * 24 * 3600 * 1000;

/** An event without a label is grouped under this (labels cannot contain parentheses). */
export const NO_EVENT_LABEL = '(none)';

/**
 * A bound of the period: a UTC date (its midnight) or an ISO 8601 timestamp with Z or an offset.
 * A timestamp without a zone is refused: the same text would mean another instant on another host.
 */
const Instant = z.union([z.iso.date(), z.iso.datetime({ offset: true })], {
  error: 'must be a date (2024-05-01) or an ISO 8601 timestamp with Z or an offset (2024-05-01T12:00:00Z)',
});

const PeriodFields = { from: Instant.optional(), to: Instant.optional() };

/** [from, to): `to` defaults to now, `from` to 30 days before `to`. */
function toPeriod(p: { from?: string; to?: string }, ctx: z.RefinementCtx): { from: Date; to: Date } | undefined {
  const to = p.to ? new Date(p.to) : new Date();
  const from = p.from ? new Date(p.from) : new Date(to.getTime() - DEFAULT_PERIOD_MS);
  if (from.getTime() < to.getTime()) return { from, to };
  ctx.addIssue({ code: 'custom', path: ['from'], message: 'must be before to' });
  return undefined;
}

/** A period as `billing reconcile` takes it. */
export const PeriodParams = z.object(PeriodFields).transform((p, ctx) => toPeriod(p, ctx) ?? z.NEVER);

/** The report's parameters as both the CLI and GET /api/billing/usage take them. */
export const ReportParams = z
  .object({
    ...PeriodFields,
    group_by: z.enum(GROUP_BY, { error: `must be one of ${GROUP_BY.join(', ')}` }).default('employee'),
  })
  .transform((p, ctx) => {
    const period = toPeriod(p, ctx);
    return period ? { ...period, groupBy: p.group_by } : z.NEVER;
  });
export type ReportParams = z.output<typeof ReportParams>;

/** A group's or the period's sums, as the database adds them up. */
export type ReportTotals = UsageTotals;

export interface ReportRow extends ReportTotals {
  /** The employee id, event label, UTC day (YYYY-MM-DD) or message id of this row. */
  group: string;
}

/** What `billing report --format json` prints and GET /api/billing/usage answers. */
export interface BillingReport {
  account_id: string;
  from: string;
  to: string;
  group_by: GroupBy;
  rows: ReportRow[];
  totals: ReportTotals;
}

const zero = (): ReportTotals => ({
  events: 0,
  credits: 0,
  token_credits: 0,
  runtime_credits: 0,
  tokens_in: 0,
  tokens_out: 0,
  runtime_ms: 0,
  model_turns: 0,
  tool_calls: 0,
});

const TOTALS = Object.keys(zero()) as Array<keyof ReportTotals>;

/**
 * Orders the period's groups and sums the totals. Days and messages read in time order; employees
 * and events by credits, largest first.
 */
export function assembleReport(accountId: string, params: ReportParams, usage: UsageRow[]): BillingReport {
  const totals = zero();
  const rows = usage.map((u) => {
    const row: ReportRow = { group: params.groupBy === 'event' && u.group === '' ? NO_EVENT_LABEL : u.group, ...zero() };
    for (const field of TOTALS) {
      row[field] = Number(u[field]);
      totals[field] += row[field];
    }
    return { row, first: new Date(u.first_at).getTime() };
  });
  const order: Record<GroupBy, (a: (typeof rows)[number], b: (typeof rows)[number]) => number> = {
    day: (a, b) => compare(a.row.group, b.row.group),
    message: (a, b) => a.first - b.first || compare(a.row.group, b.row.group),
    employee: (a, b) => b.row.credits - a.row.credits || compare(a.row.group, b.row.group),
    event: (a, b) => b.row.credits - a.row.credits || compare(a.row.group, b.row.group),
  };
  rows.sort(order[params.groupBy]);
  return {
    account_id: accountId,
    from: params.from.toISOString(),
    to: params.to.toISOString(),
    group_by: params.groupBy,
    rows: rows.map((r) => r.row),
    totals,
  };
}

/** The one report function the CLI and the HTTP API share: aggregated in the database. */
export async function billingReport(usage: UsageStore, accountId: string, params: ReportParams): Promise<BillingReport> {
  return assembleReport(accountId, params, await usage.usage(accountId, params.groupBy, params.from, params.to));
}
