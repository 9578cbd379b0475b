import type Router from '@koa/router';
import { z } from 'zod';
import type { AppDeps } from '../deps';
import { apiError } from '../errors';
import { authenticate } from '../middleware/auth';
import { rateLimit } from '../middleware/rate-limit';
import type { AppState, AuthenticatedState } from '../state';

const MessageId = z.uuid();

/**
 * GET /api/webhook/:message_id: what happened to an event. Same Bearer key as the POST; another
 * account's message id is the same 404 as an unknown one. Needs no enabled channel: a caller may
 * still ask about events sent before the channel was turned off. Counts against the account's rate
 * limit like every other route: each call asks the database and Temporal.
 */
export function statusRoutes(router: Router<AppState>, deps: AppDeps): void {
  const reader = deps.statusReader;
  if (!reader) return;
  router.get<AuthenticatedState>('/api/webhook/:message_id', authenticate(deps.keys), rateLimit(deps.rateLimiter), async (ctx) => {
    const parsed = MessageId.safeParse(ctx.params.message_id);
    if (!parsed.success) throw apiError(400, 'INVALID_REQUEST', 'message_id must be the UUID returned by POST /api/webhook/.', { field: 'message_id' });
    const view = await reader.get(ctx.state.account.id, parsed.data.toLowerCase());
    if (!view) throw apiError(404, 'MESSAGE_NOT_FOUND', 'No event with this message_id in this account.');
    ctx.body = view;
  });
}
