import type pg from 'pg';
import { inTransaction } from './postgres/pool';
import { statement } from './postgres/statement';

export type BulkState = 'running' | 'completed' | 'cancelled';

/** What a bulk replay was asked to replay: at least one of employee, label or time range. */
export interface BulkFilter {
  employeeId?: string;
  event?: string;
  since?: string;
  until?: string;
  status: 'failed' | 'completed';
}

export interface BulkProgress {
  id: string;
  accountId: string;
  filter: BulkFilter;
  state: BulkState;
  total: number;
  /** Items done: replayed, or skipped with a reason. */
  done: number;
  replayed: number;
  /** Items not replayed, by reason (REPLAY_EXPIRED, EVENT_RUNNING, EMPLOYEE_NOT_FOUND, INSUFFICIENT_CREDITS, …). */
  skipped: Record<string, number>;
  createdAt: string;
  finishedAt?: string;
}

export interface BulkItem {
  seq: number;
  messageId: string;
}

const insertBulk = statement<{ id: string; accountId: string; filter: string; total: number }, never>(
  'bulk_insert',
  `INSERT INTO bulk_replays (id, account_id, filter, total) VALUES (:id, :accountId, :filter::jsonb, :total)`,
);
const insertItems = statement<{ id: string; messageIds: string[] }, never>(
  'bulk_insert_items',
  `INSERT INTO bulk_replay_items (bulk_id, seq, message_id)
   SELECT :id, ord::int, m FROM unnest(:messageIds::uuid[]) WITH ORDINALITY AS t (m, ord)`,
);
const selectProgress = statement<
  { id: string; accountId: string },
  {
    id: string;
    account_id: string;
    filter: BulkFilter;
    state: BulkState;
    total: number;
    created_at: Date;
    finished_at: Date | null;
    done: number;
    replayed: number;
    skipped: Record<string, number> | null;
  }
>(
  'bulk_progress',
  `SELECT b.*,
     (SELECT count(*)::int FROM bulk_replay_items i WHERE i.bulk_id = b.id AND i.done_at IS NOT NULL) AS done,
     (SELECT count(*)::int FROM bulk_replay_items i WHERE i.bulk_id = b.id AND i.replay_message_id IS NOT NULL) AS replayed,
     (SELECT jsonb_object_agg(error, n) FROM (SELECT error, count(*)::int AS n FROM bulk_replay_items i
        WHERE i.bulk_id = b.id AND i.error IS NOT NULL GROUP BY error) e) AS skipped
   FROM bulk_replays b WHERE b.id = :id AND b.account_id = :accountId`,
);
const selectPending = statement<{ id: string; limit: number }, { seq: number; message_id: string }>(
  'bulk_pending',
  `SELECT seq, message_id FROM bulk_replay_items WHERE bulk_id = :id AND done_at IS NULL ORDER BY seq LIMIT :limit`,
);
const countPending = statement<{ id: string }, { n: number }>(
  'bulk_count_pending',
  `SELECT count(*)::int AS n FROM bulk_replay_items WHERE bulk_id = :id AND done_at IS NULL`,
);
const markItem = statement<{ id: string; seq: number; replayMessageId?: string; error?: string }, never>(
  'bulk_mark_item',
  `UPDATE bulk_replay_items SET replay_message_id = :replayMessageId::uuid, error = :error::text, done_at = now()
   WHERE bulk_id = :id AND seq = :seq AND done_at IS NULL`,
);
const finishBulk = statement<{ id: string; state: BulkState }, never>(
  'bulk_finish',
  `UPDATE bulk_replays SET state = :state, finished_at = now() WHERE id = :id AND state = 'running'`,
);

/** Bulk replays and their items (the set fixed at confirmation, and what became of each). */
export class BulkReplayStore {
  constructor(private readonly db: pg.Pool) {}

  async create(id: string, accountId: string, filter: BulkFilter, messageIds: string[]): Promise<void> {
    await inTransaction(this.db, async (tx) => {
      await insertBulk.run(tx, { id, accountId, filter: JSON.stringify(filter), total: messageIds.length });
      await insertItems.run(tx, { id, messageIds });
    });
  }

  /** Undefined for an unknown id and for another account's. */
  async progress(accountId: string, id: string): Promise<BulkProgress | undefined> {
    const [row] = await selectProgress.run(this.db, { id, accountId });
    if (!row) return undefined;
    return {
      id: row.id,
      accountId: row.account_id,
      filter: row.filter,
      state: row.state,
      total: row.total,
      done: row.done,
      replayed: row.replayed,
      skipped: row.skipped ?? {},
      createdAt: row.created_at.toISOString(),
      finishedAt: row.finished_at?.toISOString(),
    };
  }

  async pending(id: string, limit: number): Promise<BulkItem[]> {
    return (await selectPending.run(this.db, { id, limit })).map((r) => ({ seq: r.seq, messageId: r.message_id }));
  }

  async remaining(id: string): Promise<number> {
    const [row] = await countPending.run(this.db, { id });
    return row.n;
  }

  async markItem(id: string, seq: number, outcome: { replayMessageId?: string; error?: string }): Promise<void> {
    await markItem.run(this.db, { id, seq, ...outcome });
  }

  async finish(id: string, state: Exclude<BulkState, 'running'>): Promise<void> {
    await finishBulk.run(this.db, { id, state });
  }
}
