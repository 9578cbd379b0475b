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
  /** Overrides the statement timeout (5 s fail-fast, else 30 s): an operator's audit may read a long history. */
  statementTimeoutMs?: number;
}

// bigint columns (credits, tokens) are read as numbers: every amount here stays far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

/**
 * A connection pool. It connects lazily, so a service started while PostgreSQL is down comes up
 * anyway and heals when the database answers; meanwhile its queries fail and callers retry.
 */
export function createPool(url: string, options: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    application_name: options.name,
    max: options.max ?? 10,
    connectionTimeoutMillis: options.failFast ? 2_000 : 10_000,
    // Past this a statement is cancelled on the server, so a stuck query cannot hold a request.
    statement_timeout: options.statementTimeoutMs ?? (options.failFast ? 5_000 : 30_000),
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
