import type Router from '@koa/router';
import type { Middleware } from 'koa';
import { z } from 'zod';
import type { AppDeps } from '../deps';
import { apiError } from '../errors';
import { authenticate, requireWebhookChannel } from '../middleware/auth';
import { jsonBody } from '../middleware/json-body';
import { rateLimit } from '../middleware/rate-limit';
import type { AppState, AuthenticatedState } from '../state';
import { tenantFailureMessage } from '../../events/failure-messages';
import { parseIdempotencyKey, WebhookRequest } from '../webhook-request';

const MessageId = z.uuid();
/** The body of a replay: everything optional; `payload` replaces the original's. */
const ReplayBody = z.object({ payload: WebhookRequest.shape.payload.optional() });
const ListQuery = z.object({
  status: z.literal('failed', { error: 'status must be "failed" (the dead-letter view)' }),
  since: z.iso.datetime({ offset: true, error: 'since must be an ISO 8601 time, like 2026-12-06T14:00:00Z' }).optional(),
  cursor: z.base64url({ error: 'cursor must be the next_cursor of the previous page' }).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
});

/**
 * POST /api/webhook/:message_id/replay runs an earlier event again (a new message, its own charge);
 * GET /api/webhook?status=failed lists failed events (the dead-letter view), a page at a time.
 * Same Bearer key and rate limit as the POST of events.
 */
export function replayRoutes(router: Router<AppState>, deps: AppDeps): void {
  const replayer = deps.replayer;
  if (!replayer) return;
  // The body is optional: without one the original payload is replayed.
  const optionalBody = jsonBody<AuthenticatedState>(deps.bodyTimeoutMs);
  const maybeBody: Middleware<AuthenticatedState> = async (ctx, next) => {
    if (ctx.request.length > 0 || ctx.get('Transfer-Encoding')) await optionalBody(ctx, next);
    else await next();
  };

  router.post<AuthenticatedState>(
    '/api/webhook/:message_id/replay',
    authenticate(deps.keys),
    requireWebhookChannel(),
    rateLimit(deps.rateLimiter),
    maybeBody,
    async (ctx) => {
      const id = MessageId.safeParse(ctx.params.message_id);
      if (!id.success) throw apiError(400, 'INVALID_REQUEST', 'message_id must be the UUID returned by POST /api/webhook/.', { field: 'message_id' });
      const body = ReplayBody.safeParse(ctx.request.body ?? {});
      if (!body.success) throw apiError(400, 'INVALID_REQUEST', body.error.issues[0].message, { field: String(body.error.issues[0].path[0] ?? '') });
      const result = await replayer.replay({
        accountId: ctx.state.account.id,
        messageId: id.data.toLowerCase(),
        payload: body.data.payload,
        idempotencyKey: parseIdempotencyKey(ctx.req.headers['idempotency-key']),
        requestId: ctx.state.requestId,
      });
      ctx.state.log.info({ message_id: result.messageId, replay_of: result.replayOf, status: result.status }, 'webhook replay');
      ctx.status = result.status === 'accepted' ? 202 : 200;
      if (result.status === 'accepted') ctx.set('Location', `/api/webhook/${result.messageId}`);
      ctx.body = { message_id: result.messageId, employee_id: result.employeeId, replay_of: result.replayOf, status: result.status };
    },
  );

  router.get<AuthenticatedState>('/api/webhook', authenticate(deps.keys), rateLimit(deps.rateLimiter), async (ctx) => {
    const query = ListQuery.safeParse(ctx.query);
    if (!query.success) throw apiError(400, 'INVALID_REQUEST', query.error.issues[0].message, { field: String(query.error.issues[0].path[0] ?? '') });
    const { since, cursor, limit } = query.data;
    const page = await replayer.failed(ctx.state.account.id, {
      since: since ? new Date(since) : undefined,
      cursor: cursor ? Buffer.from(cursor, 'base64url') : undefined,
      limit,
    });
    ctx.body = {
      events: page.runs.map((r) => ({
        message_id: r.messageId,
        employee_id: r.employeeId,
        status: 'failed',
        error: { type: r.error.type ?? null, message: tenantFailureMessage(r.error.type, r.error.message) },
        attempts: r.attempts,
        failed_at: r.failedAt?.toISOString() ?? null,
      })),
      next_cursor: page.next ? Buffer.from(page.next).toString('base64url') : null,
    };
  });
}
