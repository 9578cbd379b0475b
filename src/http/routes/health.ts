import type Router from '@koa/router';
import type { AppDeps } from '../deps';
import type { AppState } from '../state';

/** Whether `check` succeeds within `ms`: a dependency that stalls is as down as one that refuses. */
async function answersWithin(check: () => Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const answered = check().then(
    () => true,
    () => false,
  );
  try {
    return await Promise.race([answered, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * /healthz: the process answers. /readyz: every dependency answers within the readiness deadline,
 * and the process is not shutting down; else 503 naming the ones that do not (no internal error
 * text: it may hold addresses or credentials). /metrics: Prometheus.
 */
export function healthRoutes(router: Router<AppState>, deps: AppDeps): void {
  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  const timeoutMs = deps.readinessTimeoutMs ?? 1_000;
  router.get('/readyz', async (ctx) => {
    // Shutting down: not ready any more, while requests in flight (and those still sent) are served.
    if (deps.lifecycle?.draining) {
      ctx.status = 503;
      ctx.body = { status: 'draining' };
      return;
    }
    const checks = deps.readiness ?? [];
    const results = await Promise.all(checks.map(async ({ name, check }) => ({ name, up: await answersWithin(check, timeoutMs) })));
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
