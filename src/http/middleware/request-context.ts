import { randomUUID } from 'node:crypto';
import type { RouterContext } from '@koa/router';
import type Koa from 'koa';
import type { Logger } from '../../observability/logger';
import type { ApiMetrics } from '../../observability/metrics';
import type { AppState } from '../state';

const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

const ignore = () => undefined;

/** Request id (kept from X-Request-Id when sane), a child logger per request, one access-log line. */
export function requestContext(logger: Logger, metrics?: ApiMetrics): Koa.Middleware<AppState> {
  return async (ctx, next) => {
    const incoming = ctx.get('X-Request-Id');
    ctx.state.requestId = SANE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    ctx.state.log = logger.child({ request_id: ctx.state.requestId });
    // A request stream's errors belong to whoever reads the body; with no reader attached, Node would
    // throw them and end the process.
    ctx.req.on('error', ignore);
    ctx.set('X-Request-Id', ctx.state.requestId);
    const started = process.hrtime.bigint();
    try {
      await next();
    } finally {
      // Answered before its body arrived (a 401 to a large upload, a stalled body on a route that reads
      // none): the rest is never read, so the connection closes instead of waiting on the client.
      if (!ctx.req.complete) ctx.set('Connection', 'close');
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (metrics) observe(metrics, ctx, ms / 1000);
      ctx.state.log.info({ method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(ms * 10) / 10 }, 'request');
    }
  };
}

/** Counts every request by matched route (never the raw path: ids would explode the label set). */
function observe(metrics: ApiMetrics, ctx: Koa.ParameterizedContext<AppState>, seconds: number): void {
  const matched = (ctx as Partial<RouterContext>)._matchedRoute;
  const route = matched === undefined ? 'unmatched' : String(matched);
  metrics.requests.inc({ route, method: ctx.method, status: String(ctx.status) });
  if (ctx.method !== 'POST' || !route.startsWith('/api/webhook')) return;
  const outcome = ctx.status === 202 ? 'accepted' : ctx.status === 200 ? 'duplicate' : 'rejected';
  const code = outcome === 'rejected' ? String((ctx.body as { error?: { code?: string } } | undefined)?.error?.code ?? ctx.status) : '';
  metrics.events.inc({ outcome, code });
  metrics.ingestSeconds.observe({ outcome }, seconds);
}
