import { Redis } from 'ioredis';

export interface RedisOptions {
  /**
   * For request paths: fail a command at once while disconnected, so a caller gets a 502 in
   * milliseconds instead of waiting on a queue. Activities keep the queue: Temporal retries them anyway.
   */
  failFast?: boolean;
  name?: string;
  /**
   * A command unanswered this long fails (ioredis `commandTimeout`): a Redis that stalls, rather than
   * dies, would otherwise hold every request that asks it. For request paths; unset: no limit. The
   * timer starts when the command is written: with auto-pipelining, a command issued while the
   * previous batch is still out waits for that batch first, so a caller may wait up to twice this
   * (measured: 1 s gives answers after 1.0-2.0 s while Redis sleeps).
   */
  commandTimeoutMs?: number;
}

/**
 * For long-running services: starts connecting and returns at once. A service started while Redis
 * is down (or restarting) comes up anyway and heals when Redis answers; meanwhile the API answers
 * 502 and the worker's activities retry.
 */
export function createRedis(url: string, options: RedisOptions = {}): Redis {
  return newClient(url, options, false);
}

/** For commands and tools: connects and waits until Redis answers, or throws. */
export async function connectRedis(url: string, options: RedisOptions = {}): Promise<Redis> {
  const redis = newClient(url, options, true);
  try {
    await redis.connect();
  } catch (err) {
    // Otherwise the client would keep reconnecting in the background, holding the process open.
    redis.disconnect();
    throw err;
  }
  return redis;
}

function newClient(url: string, options: RedisOptions, lazyConnect: boolean): Redis {
  const redis = new Redis(url, {
    lazyConnect,
    connectionName: options.name,
    enableOfflineQueue: !options.failFast,
    // Commands issued in the same tick go out in one write: the ingest asks the rate limiter and the
    // Idempotency-Key cache together, in one round trip.
    enableAutoPipelining: true,
    maxRetriesPerRequest: options.failFast ? 1 : 3,
    connectTimeout: 5_000,
    commandTimeout: options.commandTimeoutMs,
    // Reconnect forever with a capped backoff: Redis restarts must heal without a process restart.
    retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 2_000),
  });
  // Connection errors surface on commands; the event only needs a listener so it never crashes the process.
  redis.on('error', () => undefined);
  return redis;
}
