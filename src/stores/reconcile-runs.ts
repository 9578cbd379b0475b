import type pg from 'pg';
import type { ReconcileSummary } from '../domain/billing';
import { statement } from './postgres/statement';

const insertRun = statement<{
  id: string;
  startedAt: Date;
  finishedAt: Date;
  trigger: string;
  accounts: number;
  workflows: number;
  missing: number;
  repaired: number;
  staleReleased: number;
  ok: boolean;
  details: string;
}>(
  'reconcile_runs_insert',
  `INSERT INTO reconcile_runs (id, started_at, finished_at, trigger, accounts, workflows, missing, repaired, stale_released, ok, details)
   VALUES (:id, :startedAt, :finishedAt, :trigger, :accounts, :workflows, :missing, :repaired, :staleReleased, :ok, :details)
   ON CONFLICT (id) DO NOTHING`,
);

const latestRuns = statement<
  { limit: number },
  {
    id: string;
    started_at: Date;
    finished_at: Date;
    trigger: 'schedule' | 'manual';
    accounts: number;
    workflows: number;
    missing: number;
    repaired: number;
    stale_released: number;
    ok: boolean;
    details: { mismatched?: number };
  }
>('reconcile_runs_latest', `SELECT * FROM reconcile_runs ORDER BY started_at DESC LIMIT :limit`);

/** What each reconcile over every account found: the Schedule's record, and what `billing reconcile --history` lists. */
export class ReconcileRunStore {
  constructor(private readonly db: pg.Pool) {}

  /** Idempotent by run id: a retried activity records its run once. */
  async record(summary: ReconcileSummary, details: unknown): Promise<void> {
    await insertRun.run(this.db, {
      id: summary.runId,
      startedAt: new Date(summary.startedAt),
      finishedAt: new Date(summary.finishedAt),
      trigger: summary.trigger,
      accounts: summary.accounts,
      workflows: summary.workflows,
      missing: summary.missing,
      repaired: summary.repaired,
      staleReleased: summary.staleReleased,
      ok: summary.ok,
      details: JSON.stringify(details),
    });
  }

  async latest(limit = 20): Promise<ReconcileSummary[]> {
    return (await latestRuns.run(this.db, { limit })).map((r) => ({
      runId: r.id,
      trigger: r.trigger,
      startedAt: r.started_at.toISOString(),
      finishedAt: r.finished_at.toISOString(),
      accounts: r.accounts,
      workflows: r.workflows,
      missing: r.missing,
      repaired: r.repaired,
      staleReleased: r.stale_released,
      mismatched: r.details.mismatched ?? 0,
      ok: r.ok,
    }));
  }
}
