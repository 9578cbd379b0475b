import type Router from '@koa/router';
import type { Middleware } from 'koa';
import { upstream } from '../../events/errors';
import { describeDelivery } from '../../sources/delivery';
import { verifyDelivery, type Verified } from '../../sources/verify';
import type { VerifyingSource } from '../../stores/sources';
import type { AppDeps, SourceRouteDeps } from '../deps';
import { apiError } from '../errors';
import { rawBody, type RawBodyState } from '../middleware/raw-body';
import { rateLimit } from '../middleware/rate-limit';
import type { AppState, AuthenticatedState } from '../state';

interface SourceState extends AuthenticatedState, RawBodyState {
  source: VerifyingSource;
  verified: Verified;
}

/** The source's account stands in for an API key's: its rate limit and credits are the account's. */
function loadSource(deps: SourceRouteDeps): Middleware<SourceState> {
  return async (ctx, next) => {
    const id = (ctx as unknown as { params: { source_id: string } }).params.source_id;
    const source = await upstream('database', () => deps.store.forVerifying(id));
    if (!source) throw apiError(404, 'SOURCE_NOT_FOUND', `No source ${id}. Check the URL \`source add\` printed.`);
    const account = await upstream('database', () => deps.accounts.getAccount(source.accountId));
    if (!account) throw apiError(404, 'SOURCE_NOT_FOUND', `No source ${id}. Check the URL \`source add\` printed.`);
    const retry = { headers: { 'Retry-After': String(deps.retryAfterSeconds) } };
    if (!source.enabled) throw apiError(503, 'SOURCE_DISABLED', 'This source is disabled. Retry later; nothing was recorded.', retry);
    if (!account.webhookEnabled || !account.emailVerified) {
      throw apiError(503, 'SOURCE_DISABLED', "The account's webhook channel is off. Retry later; nothing was recorded.", retry);
    }
    ctx.state.source = source;
    ctx.state.account = account;
    ctx.state.keyId = `source:${source.id}`;
    ctx.state.log = ctx.state.log.child({ account_id: account.id, source_id: source.id });
    await next();
  };
}

/** 401 unless the raw bytes carry a valid signature; nothing is recorded, reserved or counted before this passes. */
const verifySignature: Middleware<SourceState> = async (ctx, next) => {
  const source = ctx.state.source;
  const verdict = verifyDelivery({ kind: source.kind, secrets: source.secrets, settings: source.settings, headers: ctx.req.headers, body: ctx.state.rawBody });
  if (!verdict.ok) throw apiError(401, 'INVALID_SIGNATURE', `Signature check failed (${source.kind}): ${verdict.checked}. Nothing was recorded.`);
  if (verdict.ping) {
    ctx.status = 200;
    ctx.body = { status: 'ignored', reason: 'ping', source_id: source.id };
    return;
  }
  ctx.state.verified = verdict;
  await next();
};

/**
 * POST /api/sources/{source_id}: a sender's own webhook, signed with the source's secret. Order:
 * 404, 503, 413, 401, then the account's rate limit (429), the dedupe window by the sender's
 * delivery id, the credit reservation (402) and the start (502). 202 once Temporal has the event.
 */
export function sourceRoutes(router: Router<AppState>, deps: AppDeps): void {
  const sources = deps.sources;
  if (!sources) return;
  router.post<SourceState>(
    '/api/sources/:source_id',
    loadSource(sources),
    rawBody<SourceState>(sources.maxBodyBytes, deps.bodyTimeoutMs),
    verifySignature,
    rateLimit<SourceState>(deps.rateLimiter),
    async (ctx) => {
      const { source, rawBody: raw, verified } = ctx.state;
      const delivery = describeDelivery(source.kind, source.settings, verified, raw, source.template);
      const result = await deps.ingest.accept({
        accountId: source.accountId,
        employeeId: source.employeeId,
        payload: delivery.text,
        event: delivery.label,
        idempotencyKey: delivery.deliveryId,
        requestId: ctx.state.requestId,
        channel: { scope: `source:${source.id}`, windowMs: source.windowMs, onReuse: 'duplicate' },
      });
      if (result.status === 'accepted') await keep(ctx.state, sources, result.messageId, delivery.body, ctx.get('Content-Type') || undefined);
      ctx.state.log.info({ message_id: result.messageId, status: result.status, label: delivery.label }, 'source event');
      ctx.status = result.status === 'accepted' ? 202 : 200;
      if (result.status === 'accepted') ctx.set('Location', `/api/webhook/${result.messageId}`);
      ctx.body = { message_id: result.messageId, employee_id: result.employeeId, status: result.status };
    },
  );
}

/** The original body and the last delivery's time: the event is accepted already, so a failure here is only logged. */
async function keep(state: SourceState, deps: SourceRouteDeps, messageId: string, body: string, contentType: string | undefined): Promise<void> {
  try {
    await deps.store.keepBody(messageId, state.source.id, body, contentType, deps.bodyRetentionMs);
    await deps.store.touch(state.source.id);
  } catch (err) {
    state.log.warn({ err: (err as Error).message, message_id: messageId }, 'could not keep the source body');
  }
}
