import Router from '@koa/router';
import Koa from 'koa';
import { errorResponses } from '../../src/http/middleware/error-responses';
import { requestContext } from '../../src/http/middleware/request-context';
import { requireHost } from '../../src/http/middleware/require-host';
import { unmatched } from '../../src/http/middleware/unmatched';
import { codecRoutes, type CodecEndpoint } from '../../src/http/routes/codec';
import type { AppState } from '../../src/http/state';
import { createLogger } from '../../src/observability/logger';

/**
 * The codec routes behind the same middleware stack as createApp (request context, JSON errors, Host
 * check, JSON 404/405), until createApp mounts them itself (`codecRoutes(router, deps)`).
 */
export function codecApp(codec: CodecEndpoint | undefined): Koa<AppState> {
  const app = new Koa<AppState>();
  app.use(requestContext(createLogger({ LOG_LEVEL: 'silent', LOG_PRETTY: false }, 'test-codec')));
  app.use(errorResponses());
  app.use(requireHost());
  app.use(unmatched());
  const router = new Router<AppState>();
  codecRoutes(router, { codec });
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
