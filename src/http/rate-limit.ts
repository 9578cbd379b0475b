import type { Redis } from 'ioredis';
import type { Middleware } from 'koa';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { AppState } from './app';
import { apiError, upstreamUnavailable } from './errors';
import { keys } from '../stores/keys';

export interface RateDecision {
  limit: number;
  remaining: number;
  resetSeconds: number;
}

/**
 * Per-account limits over a fixed one-minute window, shared by every API process through Redis.
 * The key is the account id, never the API key, so secrets never reach Redis in clear.
 */
export class AccountRateLimiter {
  private readonly limiters = new Map<number, RateLimiterRedis>();

  constructor(private readonly redis: Redis, private readonly defaultPerMinute: number) {}

  /** Consumes one request; throws a 429 (with Retry-After) when over, a 502 when Redis is unreachable. */
  async consume(accountId: string, perMinute = this.defaultPerMinute): Promise<RateDecision> {
    try {
      const res = await this.limiter(perMinute).consume(accountId);
      return decision(perMinute, res);
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw upstreamUnavailable('redis', rejection);
      const d = decision(perMinute, rejection);
      throw apiError(429, 'RATE_LIMITED', `Rate limit of ${perMinute} requests per minute exceeded. Retry after ${d.resetSeconds} s.`, {
        headers: { 'Retry-After': String(d.resetSeconds), ...rateLimitHeaders(d) },
      });
    }
  }

  private limiter(points: number): RateLimiterRedis {
    let limiter = this.limiters.get(points);
    if (!limiter) {
      limiter = new RateLimiterRedis({
        storeClient: this.redis,
        // The limit is part of the prefix, so changing an account's limit starts a fresh window.
        keyPrefix: `${keys.rateLimitPrefix}:${points}`,
        points,
        duration: 60,
      });
      this.limiters.set(points, limiter);
    }
    return limiter;
  }
}

function decision(limit: number, res: RateLimiterRes): RateDecision {
  return { limit, remaining: Math.max(0, res.remainingPoints), resetSeconds: Math.max(1, Math.ceil(res.msBeforeNext / 1000)) };
}

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
 * sends the RateLimit headers; every rate-limited route shares the account's one budget.
 */
export function rateLimit(limiter: AccountRateLimiter): Middleware<AppState> {
  return async (ctx, next) => {
    const account = ctx.state.account;
    const decision = await limiter.consume(account.id, account.rateLimitPerMinute);
    ctx.set(rateLimitHeaders(decision));
    await next();
  };
}
