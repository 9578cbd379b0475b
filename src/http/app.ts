import Router from '@koa/router';
import Koa from 'koa';
import type { EventStatusReader } from '../events/event-status';
import type { EventIngest } from '../events/ingest';
import type { Logger } from '../observability/logger';
import type { ApiMetrics } from '../observability/metrics';
import type { ApiKeyStore } from '../stores/api-keys';
import type { EmployeeStore } from '../stores/employees';
import type { AccountRateLimiter } from '../stores/redis/rate-limiter';
import type { UsageStore } from '../stores/usage';
import { errorResponses } from './middleware/error-responses';
import { requestContext } from './middleware/request-context';
import { requireHost } from './middleware/require-host';
import { unmatched } from './middleware/unmatched';
import { billingRoutes } from './routes/billing';
import { codecRoutes, type CodecEndpoint } from './routes/codec';
import { healthRoutes, type ReadinessCheck } from './routes/health';
import { statusRoutes } from './routes/status';
import { webhookRoutes } from './routes/webhook';
import type { AppState } from './state';

export type { AppState } from './state';

export interface AppDeps {
  keys: ApiKeyStore;
  employees: EmployeeStore;
  ingest: EventIngest;
  rateLimiter: AccountRateLimiter;
  logger: Logger;
  /** A body that has not fully arrived by then gets a 408, so a stalled client holds nothing for long. */
  bodyTimeoutMs: number;
  /** Debug aid: log each accepted payload's text at info (LOG_PAYLOADS). Off by default: payloads may hold personal data. */
  logPayloads?: boolean;
  /** What /readyz checks. */
  readiness?: ReadinessCheck[];
  /** Serves GET /api/webhook/:message_id when present. */
  statusReader?: EventStatusReader;
  /** Serves GET /api/billing/usage when present. */
  usage?: UsageStore;
  /** Serves POST /codec/decode and /codec/encode (the Web UI's codec server) when present. */
  codec?: CodecEndpoint;
  /** Serves GET /metrics and counts requests when present. */
  metrics?: ApiMetrics;
  /** The console's routers (src/console/console.ts), served at `/` when present. */
  console?: Koa.Middleware[];
}

/** Builds the HTTP app; it never listens, so tests drive `app.callback()` directly. */
export function createApp(deps: AppDeps): Koa<AppState> {
  const app = new Koa<AppState>();
  app.use(requestContext(deps.logger, deps.metrics));
  app.use(errorResponses());
  app.use(requireHost());
  app.use(unmatched());
  for (const middleware of deps.console ?? []) app.use(middleware);

  const router = new Router<AppState>();
  healthRoutes(router, deps);
  webhookRoutes(router, deps);
  statusRoutes(router, deps);
  billingRoutes(router, deps);
  codecRoutes(router, deps);
  app.use(router.routes());
  app.use(router.allowedMethods());

  // The one place 5xx errors are logged; 4xx are the caller's business and only counted in the access log.
  app.on('error', (err: Error & { cause?: unknown }, ctx?: Koa.ParameterizedContext<AppState>) => {
    const log: Logger = ctx?.state?.log ?? deps.logger;
    log.error({ err, cause: err?.cause }, 'request failed');
  });
  return app;
}
