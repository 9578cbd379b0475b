import type { Redis } from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';

/** One request counted against a limit: whether it may pass, and what the RateLimit headers say. */
export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  resetSeconds: number;
}

/** Counter keys: `sv:rl:<limit>:<account id>`. The limit is part of the prefix, so changing an account's limit starts a fresh window. */
const KEY_PREFIX = 'sv:rl';

/**
 * Per-account limits over a fixed one-minute window, shared by every API process through Redis
 * (rate-limiter-flexible). The key is the account id, never the API key, so secrets never reach
 * Redis. Counters may be forgotten: a flush only restarts the current minute.
 */
export class AccountRateLimiter {
  private readonly limiters = new Map<number, RateLimiterRedis>();

  constructor(
    private readonly redis: Redis,
    readonly defaultPerMinute: number,
  ) {}

  /** Counts one request; throws only when Redis does not answer. */
  async consume(accountId: string, perMinute = this.defaultPerMinute): Promise<RateDecision> {
    try {
      return decision(true, perMinute, await this.limiter(perMinute).consume(accountId));
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) return decision(false, perMinute, rejection);
      throw rejection;
    }
  }

  private limiter(points: number): RateLimiterRedis {
    let limiter = this.limiters.get(points);
    if (!limiter) {
      limiter = new RateLimiterRedis({ storeClient: this.redis, keyPrefix: `${KEY_PREFIX}:${points}`, points, duration: 60 });
      this.limiters.set(points, limiter);
    }
    return limiter;
  }
}

function decision(allowed: boolean, limit: number, res: RateLimiterRes): RateDecision {
  return { allowed, limit, remaining: Math.max(0, res.remainingPoints), resetSeconds: Math.max(1, Math.ceil(res.msBeforeNext / 1000)) };
}
