import type { Redis } from 'ioredis';

export type RedisScript<R> = (redis: Redis, ...args: Array<string | number>) => Promise<R>;

/**
 * A Lua script run through ioredis `defineCommand`: the first call on a connection sends the text
 * (EVAL), every later one only its SHA (EVALSHA), and a NOSCRIPT after a Redis restart or flush
 * resends the text. It is defined once per client, not per store: ioredis remembers per command
 * which connections have loaded it, so redefining it would send the whole text again.
 * `args` are the `numberOfKeys` keys, then the script's ARGV.
 */
export function redisScript<R>(name: string, lua: string, numberOfKeys: number): RedisScript<R> {
  return (redis, ...args) => {
    const commands = redis as unknown as Record<string, ((...a: Array<string | number>) => Promise<unknown>) | undefined>;
    if (typeof commands[name] !== 'function') redis.defineCommand(name, { lua, numberOfKeys });
    return commands[name]!(...args) as Promise<R>;
  };
}
