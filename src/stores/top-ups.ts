import type pg from 'pg';
import { isUuid } from './accounts';
import { statement } from './postgres/statement';

export interface TopUp {
  at: string;
  credits: number;
  reference?: string;
}

/** Through postings_topups_by_account: the cost follows `limit`, not the account's history. */
const latestTopUps = statement<{ accountId: string; limit: number }, { at: Date; credits: string | number; reference: string | null }>(
  'top_ups_latest',
  `SELECT at, credits, reference FROM postings
   WHERE account_id = :accountId AND kind = 'topup'
   ORDER BY seq DESC
   LIMIT :limit`,
);

/** Reads an account's top-ups from the ledger (which alone writes them: src/stores/ledger.ts). */
export class TopUpStore {
  constructor(private readonly db: pg.Pool) {}

  /** The latest `limit` top-ups, newest first. */
  async latest(accountId: string, limit: number): Promise<TopUp[]> {
    if (!isUuid(accountId)) return [];
    const rows = await latestTopUps.run(this.db, { accountId, limit });
    return rows.map((r) => ({ at: r.at.toISOString(), credits: Number(r.credits), reference: r.reference ?? undefined }));
  }
}
