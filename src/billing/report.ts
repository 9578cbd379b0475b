import { z } from 'zod';
import type { Ledger, Posting } from '../stores/ledger';

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

export interface ReportTotals {
  events: number;
  credits: number;
  token_credits: number;
  runtime_credits: number;
  tokens_in: number;
  tokens_out: number;
  runtime_ms: number;
}

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

const zero = (): ReportTotals => ({ events: 0, credits: 0, token_credits: 0, runtime_credits: 0, tokens_in: 0, tokens_out: 0, runtime_ms: 0 });

/** Charges whose posting time falls in [from, to): what the account was billed in the period. */
export function chargesIn(postings: Posting[], from: Date, to: Date): Posting[] {
  const [start, end] = [from.getTime(), to.getTime()];
  return postings.filter((p) => {
    if (p.kind !== 'charge') return false;
    const at = Date.parse(p.at);
    return at >= start && at < end;
  });
}

function groupOf(p: Posting, groupBy: GroupBy): string {
  switch (groupBy) {
    case 'employee':
      return p.employeeId ?? '(unknown)';
    case 'event':
      return p.event ?? NO_EVENT_LABEL;
    case 'day':
      return new Date(p.at).toISOString().slice(0, 10);
    case 'message':
      return p.messageId ?? p.id;
  }
}

function add(sum: ReportTotals, p: Posting): void {
  sum.events += 1;
  sum.credits += -p.credits;
  sum.token_credits += p.tokenCredits ?? 0;
  sum.runtime_credits += p.runtimeCredits ?? 0;
  sum.tokens_in += p.tokensIn ?? 0;
  sum.tokens_out += p.tokensOut ?? 0;
  sum.runtime_ms += p.runtimeMs ?? 0;
}

/**
 * Groups the period's charges. Days and messages read in time order; employees and events by
 * credits, largest first. The totals are summed from the postings themselves, not from the rows.
 */
export function buildReport(accountId: string, postings: Posting[], params: ReportParams): BillingReport {
  const charges = chargesIn(postings, params.from, params.to);
  const groups = new Map<string, { row: ReportRow; first: number }>();
  const totals = zero();
  for (const p of charges) {
    const key = groupOf(p, params.groupBy);
    let entry = groups.get(key);
    if (!entry) groups.set(key, (entry = { row: { group: key, ...zero() }, first: Date.parse(p.at) }));
    add(entry.row, p);
    add(totals, p);
  }
  const entries = [...groups.values()];
  const order: Record<GroupBy, (a: typeof entries[number], b: typeof entries[number]) => number> = {
    day: (a, b) => compare(a.row.group, b.row.group),
    message: (a, b) => a.first - b.first || compare(a.row.group, b.row.group),
    employee: (a, b) => b.row.credits - a.row.credits || compare(a.row.group, b.row.group),
    event: (a, b) => b.row.credits - a.row.credits || compare(a.row.group, b.row.group),
  };
  entries.sort(order[params.groupBy]);
  return {
    account_id: accountId,
    from: params.from.toISOString(),
    to: params.to.toISOString(),
    group_by: params.groupBy,
    rows: entries.map((e) => e.row),
    totals,
  };
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The one report function the CLI and the HTTP API share. */
export async function billingReport(ledger: Ledger, accountId: string, params: ReportParams): Promise<BillingReport> {
  return buildReport(accountId, await ledger.postings(accountId), params);
}
