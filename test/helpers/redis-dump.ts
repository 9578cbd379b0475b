import type { Redis } from 'ioredis';

/**
 * Every key in the database with everything stored under it, one text per key: what an attacker
 * with a copy of Redis would read. Walks SCAN, so it sees keys other tests write meanwhile too.
 */
export async function dumpRedis(redis: Redis): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'COUNT', 1000);
    cursor = next;
    const types = (await redis.pipeline(keys.map((key) => ['type', key])).exec()) ?? [];
    const reads = keys.map((key, i) => read(key, String(types[i]?.[1])));
    const values = (await redis.pipeline(reads).exec()) ?? [];
    keys.forEach((key, i) => out.push(`${key} ${JSON.stringify(values[i]?.[1] ?? null)}`));
  } while (cursor !== '0');
  return out;
}

/** The command that reads a whole value of this type (an expired key reads as a missing string). */
function read(key: string, type: string): string[] {
  switch (type) {
    case 'hash':
      return ['hgetall', key];
    case 'list':
      return ['lrange', key, '0', '-1'];
    case 'set':
      return ['smembers', key];
    case 'zset':
      return ['zrange', key, '0', '-1', 'WITHSCORES'];
    case 'stream':
      return ['xrange', key, '-', '+'];
    default:
      return ['get', key];
  }
}
