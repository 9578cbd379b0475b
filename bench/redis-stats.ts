import type { Redis } from 'ioredis';

/** Calls per command name so far, from INFO commandstats. */
async function commandCalls(redis: Redis): Promise<Record<string, number>> {
  const info = await redis.info('commandstats');
  const calls: Record<string, number> = {};
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[match[1]] = Number(match[2]);
  return calls;
}

/**
 * Counts the Redis commands issued during a phase; `stop(ops)` returns commands per operation by
 * name (commands run inside a Lua script are counted under their own names too). `exclude`: calls by
 * name that others made during the phase (the floor API's), taken out.
 */
export async function startRedisCount(redis: Redis): Promise<{ stop: (ops: number, exclude?: Record<string, number>) => Promise<Record<string, number>> }> {
  const before = await commandCalls(redis);
  return {
    stop: async (ops, exclude = {}) => {
      const after = await commandCalls(redis);
      const perOp: Record<string, number> = {};
      for (const [name, calls] of Object.entries(after)) {
        const delta = calls - (before[name] ?? 0) - (name === 'info' ? 1 : 0) - (exclude[name] ?? 0);
        if (delta > 0 && ops > 0) perOp[name] = Math.round((delta / ops) * 100) / 100;
      }
      return perOp;
    },
  };
}
