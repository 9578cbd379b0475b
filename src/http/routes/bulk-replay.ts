import type Router from '@koa/router';
import { z } from 'zod';
import type { BulkFilter, BulkProgress } from '../../stores/bulk-replays';
import type { AppDeps } from '../deps';
import { apiError } from '../errors';
import { authenticate, requireWebhookChannel } from '../middleware/auth';
import { jsonBody } from '../middleware/json-body';
import { rateLimit } from '../middleware/rate-limit';
import type { AppState, AuthenticatedState } from '../state';
import { WebhookRequest } from '../webhook-request';

const Time = z.iso.datetime({ offset: true, error: 'must be an ISO 8601 time, like 2026-12-06T14:00:00Z' });
/** A bulk replay request: the filter, then a dry run (default) or a start confirmed with the dry run's count. */
const BulkRequest = z
  .object({
    employee_id: WebhookRequest.shape.employee_id.optional(),
    event: WebhookRequest.shape.event,
    since: Time.optional(),
    until: Time.optional(),
    status: z.enum(['failed', 'completed'], { error: 'status must be "failed" (the default) or "completed"' }).default('failed'),
    dry_run: z.boolean({ error: 'dry_run must be true or false' }).default(true),
    count: z.number({ error: 'count must be the number of events the dry run answered' }).int().min(0).optional(),
  })
  .refine((b) => b.employee_id !== undefined || b.event !== undefined || b.since !== undefined || b.until !== undefined, {
    message: 'Give at least one of employee_id, event, since or until: a bulk replay of every failed event of the account is refused.',
    path: ['employee_id'],
  })
  .refine((b) => b.dry_run || b.count !== undefined, { message: 'Confirm a bulk replay with the count its dry run answered ("count": N).', path: ['count'] });
const BULK_ID = /^bulk_[0-9a-f]{32}$/;

/**
 * POST /api/webhook/replay: a dry run answers the count a filter matches; the same filter with
 * `"dry_run": false` and that count starts the bulk (202, `bulk_…`). GET and DELETE
 * /api/webhook/replay/:bulk_id show its progress and cancel it.
 */
export function bulkReplayRoutes(router: Router<AppState>, deps: AppDeps): void {
  const bulk = deps.bulk;
  if (!bulk) return;
  router.post<AuthenticatedState>(
    '/api/webhook/replay',
    authenticate(deps.keys),
    requireWebhookChannel(),
    rateLimit(deps.rateLimiter),
    jsonBody<AuthenticatedState>(deps.bodyTimeoutMs),
    async (ctx) => {
      const parsed = BulkRequest.safeParse(ctx.request.body);
      if (!parsed.success) throw apiError(400, 'INVALID_REQUEST', parsed.error.issues[0].message, { field: String(parsed.error.issues[0].path[0] ?? '') });
      const b = parsed.data;
      const filter: BulkFilter = { employeeId: b.employee_id, event: b.event, since: b.since, until: b.until, status: b.status };
      const filterJson = { employee_id: b.employee_id ?? null, event: b.event ?? null, since: b.since ?? null, until: b.until ?? null, status: b.status };
      if (b.dry_run) {
        ctx.body = { dry_run: true, count: await bulk.count(ctx.state.account.id, filter), filter: filterJson };
        return;
      }
      const started = await bulk.start(ctx.state.account.id, filter, b.count!);
      ctx.state.log.info({ bulk_id: started.bulkId, count: started.count }, 'bulk replay started');
      ctx.status = 202;
      ctx.set('Location', `/api/webhook/replay/${started.bulkId}`);
      ctx.body = { bulk_id: started.bulkId, count: started.count, state: 'running', filter: filterJson };
    },
  );

  const byId = (id: string) => {
    if (!BULK_ID.test(id)) throw apiError(400, 'INVALID_REQUEST', 'bulk_id must be the bulk_… id returned by POST /api/webhook/replay.', { field: 'bulk_id' });
    return id;
  };
  router.get<AuthenticatedState>('/api/webhook/replay/:bulk_id', authenticate(deps.keys), rateLimit(deps.rateLimiter), async (ctx) => {
    ctx.body = view(await bulk.progress(ctx.state.account.id, byId(ctx.params.bulk_id)));
  });
  router.delete<AuthenticatedState>('/api/webhook/replay/:bulk_id', authenticate(deps.keys), rateLimit(deps.rateLimiter), async (ctx) => {
    const progress = await bulk.cancel(ctx.state.account.id, byId(ctx.params.bulk_id));
    ctx.status = progress.state === 'running' ? 202 : 200;
    ctx.body = { ...view(progress), ...(progress.state === 'running' ? { state: 'cancelling' } : {}) };
  });
}

function view(p: BulkProgress) {
  return {
    bulk_id: p.id,
    state: p.state,
    total: p.total,
    done: p.done,
    replayed: p.replayed,
    skipped: p.skipped,
    created_at: p.createdAt,
    finished_at: p.finishedAt ?? null,
  };
}
