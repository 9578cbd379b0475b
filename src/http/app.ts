import { randomUUID } from 'node:crypto';
import Koa from 'koa';
import Router from '@koa/router';
import type { Logger } from '../logger';
import type { AccountStore } from '../stores/account-store';
import type { EventIngest } from '../ingest';
import type { AccountRateLimiter } from './rate-limit';
import { apiError, toErrorBody } from './errors';
import { webhookRoutes } from './webhook-route';
import { statusRoutes } from './status-route';
import { billingRoutes } from './billing-route';
import type { Ledger } from '../stores/ledger';
import type { EventStatusReader } from '../event-status';
import type { ApiMetrics } from '../metrics';

export interface AppDeps {
  accounts: AccountStore;
  ingest: EventIngest;
  rateLimiter: AccountRateLimiter;
  logger: Logger;
  /** A body that has not fully arrived by then gets a 408, so a stalled client holds nothing for long. */
  bodyTimeoutMs: number;
  /** Readiness probe: resolves when Redis and Temporal answer. */
  ready?: () => Promise<void>;
  /** Serves GET /api/webhook/:message_id when present. */
  statusReader?: EventStatusReader;
  /** Serves GET /api/billing/usage when present. */
  ledger?: Ledger;
  /** Serves GET /metrics and counts requests when present. */
  metrics?: ApiMetrics;
}

export interface AppState {
  requestId: string;
  log: Logger;
  [key: string]: any;
}

const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Builds the HTTP app; it never listens, so tests drive `app.callback()` directly. */
export function createApp(deps: AppDeps): Koa<AppState> {
  const app = new Koa<AppState>();
  app.use(requestContext(deps.logger, deps.metrics));
  app.use(errorResponses());
  app.use(unmatched());

  const router = new Router<AppState>();
  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    try {
      await deps.ready?.();
      ctx.body = { status: 'ready' };
    } catch (err) {
      ctx.status = 503;
      ctx.body = { status: 'unavailable', reason: (err as Error).message };
    }
  });
  webhookRoutes(router, deps);
  statusRoutes(router, deps);
  billingRoutes(router, deps);
  if (deps.metrics) {
    const { registry } = deps.metrics;
    router.get('/metrics', async (ctx) => {
      ctx.type = registry.contentType;
      ctx.body = await registry.metrics();
    });
  }
  app.use(router.routes());
  app.use(router.allowedMethods());

  // The one place 5xx errors are logged; 4xx are the caller's business and only counted in the access log.
  app.on('error', (err, ctx) => {
    const log: Logger = ctx?.state?.log ?? deps.logger;
    log.error({ err, cause: err?.cause }, 'request failed');
  });
  return app;
}

/** Request id (kept from X-Request-Id when sane), a child logger per request, one access-log line. */
function requestContext(logger: Logger, metrics?: ApiMetrics): Koa.Middleware<AppState> {
  return async (ctx, next) => {
    const incoming = ctx.get('X-Request-Id');
    ctx.state.requestId = SANE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    ctx.state.log = logger.child({ request_id: ctx.state.requestId });
    ctx.set('X-Request-Id', ctx.state.requestId);
    const started = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (metrics) observe(metrics, ctx, ms / 1000);
      ctx.state.log.info({ method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(ms * 10) / 10 }, 'request');
    }
  };
}

/** Counts every request by matched route (never the raw path: ids would explode the label set). */
function observe(metrics: ApiMetrics, ctx: Koa.ParameterizedContext<AppState>, seconds: number): void {
  const route: string = (ctx as any)._matchedRoute ?? 'unmatched';
  metrics.requests.inc({ route: String(route), method: ctx.method, status: String(ctx.status) });
  if (ctx.method !== 'POST' || !String(route).startsWith('/api/webhook')) return;
  const outcome = ctx.status === 202 ? 'accepted' : ctx.status === 200 ? 'duplicate' : 'rejected';
  const code = outcome === 'rejected' ? String((ctx.body as any)?.error?.code ?? ctx.status) : '';
  metrics.events.inc({ outcome, code });
  metrics.ingestSeconds.observe({ outcome }, seconds);
}

/**
 * What no route answered becomes a JSON error. It runs after the router's `allowedMethods`, which
 * only acts once everything downstream has returned: a 404 thrown below it would hide every 405.
 * A method the router does not implement (501 there) is a 405 on a known path: the caller's error.
 */
function unmatched(): Koa.Middleware<AppState> {
  return async (ctx, next) => {
    await next();
    if (ctx.body !== undefined && ctx.body !== null) return;
    const allow = ctx.response.get('Allow');
    if ((ctx.status === 405 || ctx.status === 501) && allow) {
      throw apiError(405, 'METHOD_NOT_ALLOWED', `${ctx.method} is not allowed on ${ctx.path}; use ${allow}.`, { headers: { Allow: allow } });
    }
    if (ctx.status === 404 || ctx.status === 405 || ctx.status === 501) {
      throw apiError(404, 'NOT_FOUND', `No route for ${ctx.method} ${ctx.path}.`);
    }
  };
}

/** Turns every thrown error into `{ error: { code, message }, request_id }`. */
function errorResponses(): Koa.Middleware<AppState> {
  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      const body = toErrorBody(err);
      ctx.status = body.status;
      if (body.headers) ctx.set(body.headers);
      ctx.body = {
        error: { code: body.code, message: body.message, ...(body.field ? { field: body.field } : {}) },
        request_id: ctx.state.requestId,
      };
      if (body.status >= 500) ctx.app.emit('error', err, ctx);
    }
  };
}
