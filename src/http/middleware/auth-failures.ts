import type { Middleware } from 'koa';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { clientIp, type TrustedProxies } from '../../net/client-ip';
import { apiError } from '../errors';
import type { AppState } from '../state';

const REFUSED = new Set(['MISSING_API_KEY', 'INVALID_API_KEY']);
const DURATION_S = 60;

export interface AuthFailureOptions {
  /** Failed authentications per client IP per minute before 429. */
  perMinute: number;
  /** Proxies whose X-Forwarded-For names the client (TRUST_PROXY). */
  trustedProxies: TrustedProxies;
}

/**
 * Counts every 401 per client IP, and refuses that IP's API requests with 429 (Retry-After) once it
 * failed `perMinute` times within a minute, before its key is hashed or looked up: a stream of random
 * Bearer tokens costs neither the database nor the key cache. In process memory, not Redis: a
 * refusal must cost nothing, not even a round trip to a Redis that may be the thing under strain; an
 * address gets `perMinute` failures per API process.
 */
export function authFailureLimit(opts: AuthFailureOptions): Middleware<AppState> {
  const failures = new RateLimiterMemory({ points: opts.perMinute, duration: DURATION_S });
  // A count lives DURATION_S from its first failure: with no failure recorded for that long, no
  // address can be over the limit, and a request skips the address parsing and the lookup.
  let lastFailureAt = -Infinity;
  return async (ctx, next) => {
    if (!ctx.path.startsWith('/api/')) {
      await next();
      return;
    }
    const ipOf = () => clientIp(ctx.req.socket.remoteAddress, ctx.get('X-Forwarded-For') || undefined, opts.trustedProxies);
    let ip: string | undefined;
    if (Date.now() - lastFailureAt <= DURATION_S * 1000) {
      ip = ipOf();
      const seen = await failures.get(ip);
      if (seen && seen.consumedPoints >= opts.perMinute) throw tooMany(seen);
    }
    try {
      await next();
    } catch (err) {
      if ((err as { status?: number }).status === 401 && REFUSED.has(String((err as { code?: unknown }).code))) {
        lastFailureAt = Date.now();
        await failures.consume(ip ?? ipOf()).catch((res: unknown) => {
          if (!(res instanceof RateLimiterRes)) throw res;
        });
      }
      throw err;
    }
  };
}

function tooMany(res: RateLimiterRes) {
  const seconds = Math.max(1, Math.ceil(res.msBeforeNext / 1000));
  return apiError(429, 'TOO_MANY_AUTH_FAILURES', `Too many failed authentications from this address. Retry after ${seconds} s with a valid API key.`, {
    headers: { 'Retry-After': String(seconds) },
  });
}
