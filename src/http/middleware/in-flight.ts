import type { Middleware } from 'koa';
import { apiError } from '../errors';
import type { AppState } from '../state';

/** Probes and metrics stay answerable while the process sheds: they cost nothing and tell why. */
const EXEMPT = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * At most `max` requests of this process in flight; past it, 503 OVERLOADED with `Retry-After: 1`
 * before the body is read or anything is asked of a dependency. So a slow dependency makes requests
 * wait in bounded numbers instead of piling up in memory (each waiting request holds its socket,
 * its buffers and its promises).
 */
export function inFlightCap(max: number): Middleware<AppState> {
  let inFlight = 0;
  return async (ctx, next) => {
    if (EXEMPT.has(ctx.path)) {
      await next();
      return;
    }
    if (inFlight >= max) {
      throw apiError(503, 'OVERLOADED', `This API process is at its limit of ${max} requests in flight. Retry after 1 s.`, { headers: { 'Retry-After': '1' } });
    }
    inFlight += 1;
    try {
      await next();
    } finally {
      inFlight -= 1;
    }
  };
}
