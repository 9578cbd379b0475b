import type Router from '@koa/router';
import type { Middleware } from 'koa';
import type { WindowPeek } from '../../events/ingest';
import type { AppDeps } from '../deps';
import { authenticate, requireWebhookChannel } from '../middleware/auth';
import { jsonBody } from '../middleware/json-body';
import { rateLimit } from '../middleware/rate-limit';
import type { AppState, AuthenticatedState } from '../state';
import { parseIdempotencyKey, parseWebhookRequest } from '../webhook-request';

const WEBHOOK_PATHS = ['/api/webhook', '/api/webhook/'];

interface WebhookState extends AuthenticatedState {
  /** Ingest's early read of the key's window (see EventIngest.peek). */
  window?: WindowPeek;
}

/**
 * POST /api/webhook/: checks run in the documented order (401, 403, 429, 413, 415, 400, 404),
 * then the idempotency check, then the credit reservation (402), then the workflow start; 202 only
 * once Temporal acknowledged it.
 */
export function webhookRoutes(router: Router<AppState>, deps: AppDeps): void {
  // Ingest's window read is sent in the same tick as the rate limit's (which `next()` starts before
  // its first await), so auto-pipelining sends both in one Redis round trip. After it, not before:
  // ioredis fails a pipeline whose script (the rate limit's EVALSHA) follows a plain command there.
  const peekWindow: Middleware<WebhookState> = (ctx, next) => {
    const downstream = next();
    const header = ctx.req.headers['idempotency-key'];
    if (typeof header === 'string') ctx.state.window = deps.ingest.peek(ctx.state.account.id, header);
    return downstream;
  };
  router.post<WebhookState>(
    WEBHOOK_PATHS,
    authenticate(deps.keys),
    requireWebhookChannel(),
    peekWindow,
    rateLimit<WebhookState>(deps.rateLimiter),
    jsonBody<WebhookState>(deps.bodyTimeoutMs),
    async (ctx) => {
      const request = parseWebhookRequest(ctx.request.body);
      const idempotencyKey = parseIdempotencyKey(ctx.req.headers['idempotency-key']);
      const result = await deps.ingest.accept(
        {
          accountId: ctx.state.account.id,
          employeeId: request.employee_id,
          payload: request.payload,
          event: request.event,
          idempotencyKey,
          requestId: ctx.state.requestId,
        },
        ctx.state.window,
      );
      ctx.state.log.info({ message_id: result.messageId, status: result.status, workflow_id: result.workflowId }, 'webhook event');
      if (deps.logPayloads) ctx.state.log.info({ message_id: result.messageId, event: request.event, payload: request.payload }, 'webhook payload');
      ctx.status = result.status === 'accepted' ? 202 : 200;
      if (result.status === 'accepted') ctx.set('Location', `/api/webhook/${result.messageId}`);
      ctx.body = { message_id: result.messageId, employee_id: result.employeeId, status: result.status };
    },
  );
}
