import type Router from '@koa/router';
import { billingReport, ReportParams } from '../../billing/report';
import { upstream } from '../../events/errors';
import type { AppDeps } from '../deps';
import { apiError } from '../errors';
import { authenticate } from '../middleware/auth';
import { rateLimit } from '../middleware/rate-limit';
import type { AppState, AuthenticatedState } from '../state';

const DAY_MS = 24 * 3600 * 1000;
/** A per-message report has a row per event: its period is bounded so one request's rows are too. */
export const MAX_MESSAGE_PERIOD_DAYS = 31;
const MAX_MESSAGE_PERIOD_MS = MAX_MESSAGE_PERIOD_DAYS * DAY_MS;

/**
 * GET /api/billing/usage?from=&to=&group_by=: the account's charges, grouped, with totals — the same
 * JSON as `sistava billing report --format json`. The Bearer key chooses the account: there is no
 * parameter that could name another one. Needs no enabled channel, like the status API. It sums the
 * hourly rollup in the database, and counts against the account's rate limit like a webhook.
 * By message, the period is at most 31 days (the CLI, an operator's tool, has no such bound).
 */
export function billingRoutes(router: Router<AppState>, deps: AppDeps): void {
  const usage = deps.usage;
  if (!usage) return;
  router.get<AuthenticatedState>('/api/billing/usage', authenticate(deps.keys), rateLimit(deps.rateLimiter), async (ctx) => {
    const query = ctx.query;
    for (const name of ['from', 'to', 'group_by', 'format'] as const) {
      if (Array.isArray(query[name])) throw apiError(400, 'INVALID_REQUEST', `${name} may be given once.`, { field: name });
    }
    if (query.format !== undefined && query.format !== 'json') {
      throw apiError(400, 'INVALID_REQUEST', 'format must be json here; the CLI (sistava billing report) also prints table and csv.', { field: 'format' });
    }
    const parsed = ReportParams.safeParse({ from: query.from, to: query.to, group_by: query.group_by });
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field = String(issue.path[0] ?? 'from');
      throw apiError(400, 'INVALID_REQUEST', `${field} ${issue.message}.`, { field });
    }
    const { from, to, groupBy } = parsed.data;
    if (groupBy === 'message' && to.getTime() - from.getTime() > MAX_MESSAGE_PERIOD_MS) {
      throw apiError(
        400,
        'INVALID_REQUEST',
        `group_by=message covers at most ${MAX_MESSAGE_PERIOD_DAYS} days (one row per event); this period is ${Math.ceil((to.getTime() - from.getTime()) / DAY_MS)} days. Ask for from and to at most ${MAX_MESSAGE_PERIOD_DAYS} days apart, or group by day, employee or event.`,
        { field: 'from' },
      );
    }
    ctx.body = await upstream('database', () => billingReport(usage, ctx.state.account.id, parsed.data));
  });
}
