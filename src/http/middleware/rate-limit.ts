import type { Middleware } from 'koa';
import { upstream } from '../../events/errors';
import type { AccountRateLimiter, RateDecision } from '../../stores/redis/rate-limiter';
import { apiError } from '../errors';
import type { AuthenticatedState } from '../state';

/** IETF draft RateLimit header fields, sent on every rate-limited route's response. */
export function rateLimitHeaders(d: RateDecision): Record<string, string> {
  return {
    'RateLimit-Limit': String(d.limit),
    'RateLimit-Remaining': String(d.remaining),
    'RateLimit-Reset': String(d.resetSeconds),
  };
}

/**
 * Counts the request against the authenticated account's limit (its own, else the default) and
 * sends the RateLimit headers; every rate-limited route shares the account's one budget. 429 with
 * Retry-After when over; 502 when Redis does not answer.
 */
export function rateLimit<S extends AuthenticatedState>(limiter: AccountRateLimiter): Middleware<S> {
  return async (ctx, next) => {
    const account = ctx.state.account;
    const perMinute = account.rateLimitPerMinute ?? limiter.defaultPerMinute;
    const decision = await upstream('cache', () => limiter.consume(account.id, perMinute));
    if (!decision.allowed) {
      throw apiError(429, 'RATE_LIMITED', `Rate limit of ${perMinute} requests per minute exceeded. Retry after ${decision.resetSeconds} s.`, {
        headers: { 'Retry-After': String(decision.resetSeconds), ...rateLimitHeaders(decision) },
      });
    }
    ctx.set(rateLimitHeaders(decision));
    await next();
  };
}
