import type Router from '@koa/router';
import type { ParameterizedContext } from 'koa';
import { upstream } from '../../events/errors';
import type { OriginalEvent } from '../../stores/redis/idempotency-cache';
import type { AppDeps } from '../app';
import { apiError } from '../errors';
import { authenticate, requireWebhookChannel } from '../middleware/auth';
import { jsonBody } from '../middleware/json-body';
import { rateLimit } from '../middleware/rate-limit';
import type { AppState, AuthenticatedState } from '../state';
import { parseIdempotencyKey, parseWebhookRequest } from '../webhook-request';

const WEBHOOK_PATHS = ['/api/webhook', '/api/webhook/'];

interface WebhookState extends AuthenticatedState {
  /** The Idempotency-Key cache's answer, asked in the rate limit's round trip. */
  cachedWindow?: Promise<OriginalEvent | undefined>;
}

/**
 * POST /api/webhook/: checks run in the documented order (401, 403, 429, 413, 415, 400, 404),
 * then the idempotency check, then the credit reservation (402), then the workflow start; 202 only
 * once Temporal acknowledged it. The key's cached window is read beside the rate limit (one Redis
 * round trip) but only used once the request is valid.
 */
export function webhookRoutes(router: Router<AppState>, deps: AppDeps): void {
  const peekWindow = (ctx: ParameterizedContext<WebhookState>) => {
    const header = ctx.req.headers['idempotency-key'];
    if (typeof header === 'string') ctx.state.cachedWindow = deps.ingest.lookupWindow(ctx.state.account.id, header);
  };
  router.post<WebhookState>(
    WEBHOOK_PATHS,
    authenticate(deps.keys),
    requireWebhookChannel(),
    rateLimit<WebhookState>(deps.rateLimiter, peekWindow),
    jsonBody<WebhookState>(deps.bodyTimeoutMs),
    async (ctx) => {
      const request = parseWebhookRequest(ctx.request.body);
      const idempotencyKey = parseIdempotencyKey(ctx.req.headers['idempotency-key']);
      const employee = await upstream('database', () => deps.employees.getEmployeeCached(request.employee_id));
      // Another account's employee gets the same answer as a missing one: ids are not an oracle.
      if (!employee || employee.accountId !== ctx.state.account.id) {
        throw apiError(404, 'EMPLOYEE_NOT_FOUND', `No employee ${request.employee_id} in this account. Check employee_id.`, { field: 'employee_id' });
      }
      const result = await deps.ingest.accept({
        accountId: ctx.state.account.id,
        employeeId: employee.id,
        payload: request.payload,
        event: request.event,
        idempotencyKey,
        requestId: ctx.state.requestId,
        cached: idempotencyKey === undefined ? undefined : await ctx.state.cachedWindow,
      });
      ctx.state.log.info({ message_id: result.messageId, status: result.status, workflow_id: result.workflowId }, 'webhook event');
      if (deps.logPayloads) ctx.state.log.info({ message_id: result.messageId, event: request.event, payload: request.payload }, 'webhook payload');
      ctx.status = result.status === 'accepted' ? 202 : 200;
      if (result.status === 'accepted') ctx.set('Location', `/api/webhook/${result.messageId}`);
      ctx.body = { message_id: result.messageId, employee_id: result.employeeId, status: result.status };
    },
  );
}
