import type Router from '@koa/router';
import { billingReport, ReportParams, type GroupBy } from '../../billing/report';
import { reportCsv } from '../../billing/report-format';
import { apiError } from '../../http/errors';
import type { ConsoleDeps } from '../deps';
import { billingPage } from '../pages/billing';
import { signedIn, type ConsoleState, type SignedInState } from '../session';

/** Top-ups listed on the page, newest first. */
const TOP_UPS_SHOWN = 20;

/** The range of the page and of its CSV, parsed exactly as `billing report` and GET /api/billing/usage parse theirs. */
function params(query: Record<string, unknown>, groupBy: GroupBy): ReportParams {
  const one = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  const parsed = ReportParams.safeParse({ from: one(query.from), to: one(query.to), group_by: groupBy });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw apiError(400, 'INVALID_REQUEST', `${String(issue.path[0] ?? 'from')} ${issue.message}.`);
  }
  return parsed.data;
}

/** Billing: balance, top-ups, credits per day and the usage tables, all from billingReport (src/billing/report.ts). */
export function billingPages(router: Router<ConsoleState>, deps: ConsoleDeps): void {
  router.get<SignedInState>('/billing', signedIn(), async (ctx) => {
    const { session } = ctx.state;
    const accountId = session.account.id;
    const range = params(ctx.query, 'day');
    const report = (groupBy: GroupBy) => billingReport(deps.usage, accountId, { ...range, groupBy });
    const [counters, topUps, byDay, byEmployee, byEvent, employees] = await Promise.all([
      deps.ledger.counters(accountId),
      deps.topUps.latest(accountId, TOP_UPS_SHOWN),
      report('day'),
      report('employee'),
      report('event'),
      deps.employees.listEmployees(accountId),
    ]);
    ctx.type = 'html';
    ctx.body = billingPage(session, {
      balance: counters.balance,
      reserved: counters.reserved,
      topUps,
      byDay,
      byEmployee,
      byEvent,
      employeeNames: new Map(employees.map((e) => [e.id, e.name])),
      fromDate: range.from.toISOString().slice(0, 10),
      // Without a chosen end the range runs to now: the form shows tomorrow, so today stays in when sent back.
      toDate: (typeof ctx.query.to === 'string' && ctx.query.to ? range.to : new Date(range.to.getTime() + 86_400_000)).toISOString().slice(0, 10),
    }).text;
  });

  router.get<SignedInState>('/billing/usage.csv', signedIn(), async (ctx) => {
    const groupBy = (['employee', 'event', 'day', 'message'] as const).find((g) => g === ctx.query.group_by) ?? 'employee';
    const report = await billingReport(deps.usage, ctx.state.session.account.id, params(ctx.query, groupBy));
    ctx.type = 'text/csv; charset=utf-8';
    ctx.attachment(`sistava-usage-by-${groupBy}.csv`);
    ctx.body = reportCsv(report);
  });
}
