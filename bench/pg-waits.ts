import type pg from 'pg';

/** Temporal's databases (src/dev/temporal-cluster/schema.ts); every other database of the run's PostgreSQL is ours. */
export const TEMPORAL_DATABASES: readonly string[] = ['temporal', 'temporal_visibility'];

/** What the sessions of one side were doing, over the samples of a phase. */
export interface SessionSide {
  /** Mean number of sessions busy per sample: running a statement, or idle inside a transaction. */
  busy_avg: number;
  /** Share of those session-samples per activity: `CPU` (running, no wait event), `Type:Event` (waiting), `idle in transaction`. */
  by_activity: Record<string, number>;
}

/** PostgreSQL's sessions over one phase, from pg_stat_activity: ours vs Temporal's. */
export interface SessionSample {
  samples: number;
  interval_ms: number;
  ours: SessionSide;
  temporal: SessionSide;
}

interface Counts {
  busy: number;
  by: Record<string, number>;
}

/**
 * Samples pg_stat_activity every `intervalMs` until `stop()`: which sessions are busy and what they
 * wait on (a lock, the WAL, a data file) or not (CPU). It tells whether PostgreSQL is busy computing,
 * flushing commits or serialising on hot rows. The bench's own sessions are left out.
 */
export function sampleSessions(db: pg.Pool, intervalMs = 100): { stop: () => Promise<SessionSample> } {
  const sides: Record<'ours' | 'temporal', Counts> = { ours: { busy: 0, by: {} }, temporal: { busy: 0, by: {} } };
  let samples = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const started = Date.now();
      try {
        const { rows } = await db.query<{ datname: string; state: string; wait: string | null }>(
          `SELECT datname, state, CASE WHEN wait_event IS NULL THEN NULL ELSE wait_event_type || ':' || wait_event END AS wait
             FROM pg_stat_activity
            WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND application_name <> 'bench'
              AND state IN ('active', 'idle in transaction')`,
        );
        samples += 1;
        for (const row of rows) {
          const side = sides[TEMPORAL_DATABASES.includes(row.datname) ? 'temporal' : 'ours'];
          const activity = row.state === 'active' ? (row.wait ?? 'CPU') : 'idle in transaction';
          side.busy += 1;
          side.by[activity] = (side.by[activity] ?? 0) + 1;
        }
      } catch {
        // A missed sample (the pool is busy or closing) only lowers the count.
      }
      await new Promise((r) => setTimeout(r, Math.max(0, intervalMs - (Date.now() - started))));
    }
  })();
  const summary = (c: Counts): SessionSide => ({
    busy_avg: samples ? Math.round((c.busy / samples) * 100) / 100 : 0,
    by_activity: Object.fromEntries(
      Object.entries(c.by)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => [k, Math.round((v / c.busy) * 1000) / 1000]),
    ),
  });
  return {
    stop: async () => {
      running = false;
      await loop;
      return { samples, interval_ms: intervalMs, ours: summary(sides.ours), temporal: summary(sides.temporal) };
    },
  };
}

/** Rounds of one phase as one: their samples added up. */
export function mergeSessions(parts: SessionSample[]): SessionSample | undefined {
  if (parts.length === 0) return undefined;
  const samples = parts.reduce((a, p) => a + p.samples, 0);
  const side = (key: 'ours' | 'temporal'): SessionSide => {
    const busy = parts.reduce((a, p) => a + p[key].busy_avg * p.samples, 0);
    const by: Record<string, number> = {};
    for (const p of parts) {
      const partBusy = p[key].busy_avg * p.samples;
      for (const [k, share] of Object.entries(p[key].by_activity)) by[k] = (by[k] ?? 0) + share * partBusy;
    }
    return {
      busy_avg: samples ? Math.round((busy / samples) * 100) / 100 : 0,
      by_activity: Object.fromEntries(
        Object.entries(by)
          .sort((a, b) => b[1] - a[1])
          .map(([k, v]) => [k, busy ? Math.round((v / busy) * 1000) / 1000 : 0]),
      ),
    };
  };
  return { samples, interval_ms: parts[0].interval_ms, ours: side('ours'), temporal: side('temporal') };
}
