import pg from 'pg';

export interface PoolOptions {
  /** Shown in pg_stat_activity: which process holds a connection. */
  name: string;
  /** Connections at most; the API's hot path holds one for a single statement. */
  max?: number;
  /**
   * For request paths: give up on a connection quickly, so a caller gets a 502 in bounded time
   * while the database is down. Workers wait longer: Temporal retries their activities anyway.
   */
  failFast?: boolean;
  /**
   * Overrides the statement timeout (5 s fail-fast, else 30 s): an operator's audit may read a long
   * history; the API's hot path wants a second; the worker's local activities want less than theirs.
   */
  statementTimeoutMs?: number;
  /** Overrides how long a caller waits for a connection, from the pool or a new one (2 s fail-fast, else 10 s). */
  connectionTimeoutMs?: number;
}

/**
 * The worker's statement timeout (src/worker.ts): below the 10 s start-to-close timeout of the event workflow's
 * local activities (workflows/process-webhook-event.ts, workflows/agent-loop.ts), with the client's
 * own deadline (+500 ms) still inside it. So a statement stuck on a lock is cancelled by the server
 * before Temporal times the attempt out and schedules the next one: a retry never runs beside its
 * own earlier attempt's statement, queueing on the same row lock.
 */
export const WORKER_STATEMENT_TIMEOUT_MS = 8_000;

/**
 * How much later than the server's statement_timeout the client gives up itself (pg's query_timeout):
 * the server cancels first and says why; the client's deadline only covers a server or network that
 * stopped answering altogether.
 */
const CLIENT_GRACE_MS = 500;

// bigint columns (credits, tokens) are read as numbers: every amount here stays far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

/**
 * A connection pool. It connects lazily, so a service started while PostgreSQL is down comes up
 * anyway and heals when the database answers; meanwhile its queries fail and callers retry.
 */
export function createPool(url: string, options: PoolOptions): pg.Pool {
  const statementTimeout = options.statementTimeoutMs ?? (options.failFast ? 5_000 : 30_000);
  const pool = new pg.Pool({
    connectionString: url,
    application_name: options.name,
    max: options.max ?? 10,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? (options.failFast ? 2_000 : 10_000),
    // Past this a statement is cancelled on the server, so a stuck query cannot hold a request.
    statement_timeout: statementTimeout,
    query_timeout: statementTimeout + CLIENT_GRACE_MS,
    // A peer that vanished without a FIN (a NAT or a VM gone) is noticed in about a minute, not hours.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client whose server went away emits here; the pool drops it and connects anew on demand.
  pool.on('error', () => undefined);
  return pool;
}

/** Runs `work` in a transaction on one client: committed when it resolves, rolled back when it throws. */
export async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
