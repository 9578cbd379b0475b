import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import Koa from 'koa';
import Router from '@koa/router';
import type { Logger } from '../logger';
import type { AccountStore } from '../stores/account-store';
import type { EventIngest } from '../ingest';
import type { AccountRateLimiter } from './rate-limit';
import { apiError, clientErrorBody, toErrorBody, type ErrorBody } from './errors';
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
  /** Debug aid: log each accepted payload's text at info (LOG_PAYLOADS). Off by default: payloads may hold personal data. */
  logPayloads?: boolean;
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
  app.use(requireHost());
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

const ignore = () => undefined;

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
 * HTTP/1.1 requires a Host header (RFC 9112, 3.2). Node would refuse its absence itself, with a bare
 * 400; the server leaves it to this middleware so the refusal is the usual JSON error.
 */
function requireHost(): Koa.Middleware<AppState> {
  return async (ctx, next) => {
    if (ctx.req.httpVersion === '1.1' && ctx.req.headers.host === undefined) {
      ctx.set('Connection', 'close');
      throw apiError(400, 'INVALID_REQUEST', 'HTTP/1.1 requests need a Host header.');
    }
    await next();
  };
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

export interface ServerOptions {
  /** Headers must arrive within this long (the body has its own timer in the body parser). */
  timeoutMs: number;
  logger: Logger;
}

/**
 * The app's HTTP server (not yet listening). Node answers some requests itself before the app sees
 * them: malformed HTTP, headers over 16 KB, passed deadlines, unknown `Expect`, `CONNECT`. Here those
 * answers are the same JSON errors as the app's, and every deadline is short enough that a stalled
 * client holds a socket for about `timeoutMs`, not Node's default minutes.
 */
export function createServer(app: Koa<AppState>, { timeoutMs, logger }: ServerOptions): http.Server {
  const server = http.createServer(
    {
      headersTimeout: timeoutMs,
      // A backstop: the body parser answers 408 on its own timer, started once the headers are in.
      requestTimeout: 2 * timeoutMs,
      // Node checks those deadlines on this interval; its 30 s default would let a stalled client stay that long past them.
      connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(timeoutMs / 5))),
      // The app answers a missing Host itself, as JSON (see requireHost).
      requireHostHeader: false,
    },
    app.callback(),
  );
  const refused = new WeakSet<Duplex>();
  server.on('clientError', (err: NodeJS.ErrnoException & { reason?: string; rawPacket?: Buffer }, socket: Duplex) => {
    const body = clientErrorBody(err);
    // Bytes still arriving after a refusal fail the parser again; the answer already on its way closes the socket.
    if (refused.has(socket) && socket.writable) return;
    if (!body || !socket.writable) return void socket.destroy();
    refused.add(socket);
    // Never the error itself: its rawPacket holds the request bytes, Authorization header included.
    logger.debug({ code: err.code, status: body.status }, 'request refused by the HTTP parser');
    const inFlight = (socket as { _httpMessage?: http.ServerResponse | null })._httpMessage;
    if (!inFlight || inFlight.writableFinished) return endWithError(socket, body, isHead(err.rawPacket));
    if (inFlight.headersSent) return void socket.destroy();
    // Garbage pipelined behind a complete request: that request is answered first, then the garbage.
    if (inFlight.req.complete) return void inFlight.once('finish', () => (socket.writable ? endWithError(socket, body) : socket.destroy()));
    // The request the app is still reading is the broken or late one: it is answered now, and the
    // app's own answer, if it ever comes, meets a closed socket.
    endWithError(socket, body);
  });
  // An expectation other than 100-continue: RFC 9110 lets a server ignore it, so the app answers as usual.
  server.on('checkExpectation', app.callback());
  server.on('connect', (_req: http.IncomingMessage, socket: Duplex) => {
    endWithError(socket, { status: 405, code: 'METHOD_NOT_ALLOWED', message: 'CONNECT is not supported: this server is not a proxy.', headers: { Allow: '' } });
  });
  return server;
}

/** How long a refused connection may linger for the client to read its answer. */
const LINGER_MS = 1_000;

/**
 * Node does not say which method a request it could not parse had. When the failed packet starts the
 * request and says HEAD, the answer carries no body (RFC 9110, 9.3.2), which the client would misread.
 */
function isHead(rawPacket: Buffer | undefined): boolean {
  return rawPacket?.subarray(0, 5).toString('latin1') === 'HEAD ';
}

/** Writes a JSON error straight to the socket (there is no response object yet) and closes it. */
function endWithError(socket: Duplex, body: ErrorBody, headOnly = false): void {
  const requestId = randomUUID();
  const text = JSON.stringify({ error: { code: body.code, message: body.message }, request_id: requestId });
  const headers: Record<string, string | number> = {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'X-Request-Id': requestId,
    Connection: 'close',
    ...body.headers,
  };
  const head = [`HTTP/1.1 ${body.status} ${http.STATUS_CODES[body.status]}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  socket.end(`${head.join('\r\n')}\r\n\r\n${headOnly ? '' : text}`);
  const linger = setTimeout(() => socket.destroy(), LINGER_MS).unref();
  socket.once('close', () => clearTimeout(linger));
}
