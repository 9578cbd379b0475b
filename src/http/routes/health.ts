import type Router from '@koa/router';
import type { AppDeps } from '../deps';
import type { AppState } from '../state';

/**
 * /healthz: the process answers. /readyz: every dependency answers, else 503 naming the ones that
 * do not (no internal error text: it may hold addresses or credentials). /metrics: Prometheus.
 */
export function healthRoutes(router: Router<AppState>, deps: AppDeps): void {
  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    const checks = deps.readiness ?? [];
    const results = await Promise.all(
      checks.map(async ({ name, check }) => ({
        name,
        up: await check().then(
          () => true,
          () => false,
        ),
      })),
    );
    const down = results.filter((r) => !r.up).map((r) => r.name);
    ctx.status = down.length ? 503 : 200;
    ctx.body = down.length ? { status: 'unavailable', down } : { status: 'ready' };
  });
  if (deps.metrics) {
    const { registry } = deps.metrics;
    router.get('/metrics', async (ctx) => {
      ctx.type = registry.contentType;
      ctx.body = await registry.metrics();
    });
  }
}
