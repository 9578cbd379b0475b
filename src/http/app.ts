import Router from '@koa/router';
import Koa from 'koa';
import type { Logger } from '../observability/logger';
import { authFailureLimit } from './middleware/auth-failures';
import { errorResponses } from './middleware/error-responses';
import { inFlightCap } from './middleware/in-flight';
import { requestContext } from './middleware/request-context';
import { requireHost } from './middleware/require-host';
import { unmatched } from './middleware/unmatched';
import { billingRoutes } from './routes/billing';
import { bulkReplayRoutes } from './routes/bulk-replay';
import { codecRoutes } from './routes/codec';
import { healthRoutes } from './routes/health';
import { sourceRoutes } from './routes/sources';
import { replayRoutes } from './routes/replay';
import { statusRoutes } from './routes/status';
import { webhookRoutes } from './routes/webhook';
import type { AppDeps } from './deps';
import type { AppState } from './state';

export type { AppState } from './state';
export type { AppDeps } from './deps';

/** Builds the HTTP app; it never listens, so tests drive `app.callback()` directly. */
export function createApp(deps: AppDeps): Koa<AppState> {
  const app = new Koa<AppState>();
  app.use(requestContext(deps.logger, deps.metrics));
  app.use(errorResponses());
  if (deps.maxInFlight) app.use(inFlightCap(deps.maxInFlight));
  if (deps.authFailures) app.use(authFailureLimit(deps.authFailures));
  app.use(requireHost());
  app.use(unmatched());
  for (const middleware of deps.console ?? []) app.use(middleware);

  const router = new Router<AppState>();
  healthRoutes(router, deps);
  webhookRoutes(router, deps);
  sourceRoutes(router, deps);
  bulkReplayRoutes(router, deps);
  replayRoutes(router, deps);
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
