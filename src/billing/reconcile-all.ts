import { randomUUID } from 'node:crypto';
import type { ReconcileSummary } from '../domain/billing';
import type { AccountStore } from '../stores/accounts';
import type { Ledger } from '../stores/ledger';
import type { ReconcileRunStore } from '../stores/reconcile-runs';
import type { EventRuns } from '../temporal/event-runs';
import { reconcile, type ReconcileReport } from './reconcile';

export interface ReconcileAllDeps {
  /** Where the runs' recorded charges are read. */
  events: EventRuns;
  ledger: Ledger;
  accounts: AccountStore;
  runs: ReconcileRunStore;
}

export interface ReconcileAllOptions {
  trigger: ReconcileSummary['trigger'];
  /** The run's id; the Schedule's activity passes its workflow run id, so a retried attempt records once. */
  runId?: string;
  /** How far back to look: Temporal lists closed workflows only within the namespace's retention. */
  lookbackMs: number;
  staleAfterMs: number;
  /** Called after each account, so a long pass can heartbeat. */
  onAccount?: (accountId: string) => void;
  now?: Date;
}

/** The scheduled pass covers the dev namespace's 24 h retention; older histories are gone anyway. */
export const DEFAULT_LOOKBACK_MS = 24 * 3600 * 1000;

/**
 * Reconciles every account with repair on, records the run (reconcile_runs) and returns its summary
 * with the accounts that had anything to report. Used by the Schedule's activity and by
 * `sistava billing reconcile --all`.
 */
export async function reconcileAll(deps: ReconcileAllDeps, options: ReconcileAllOptions): Promise<{ summary: ReconcileSummary; findings: ReconcileReport[] }> {
  const startedAt = new Date();
  const to = options.now ?? startedAt;
  const from = new Date(to.getTime() - options.lookbackMs);
  const findings: ReconcileReport[] = [];
  const summary: ReconcileSummary = {
    runId: options.runId ?? randomUUID(),
    trigger: options.trigger,
    startedAt: startedAt.toISOString(),
    finishedAt: startedAt.toISOString(),
    accounts: 0,
    workflows: 0,
    missing: 0,
    repaired: 0,
    staleReleased: 0,
    mismatched: 0,
    ok: true,
  };
  for (const accountId of await deps.accounts.allIds()) {
    const result = await reconcile(deps.events, deps.ledger, { accountId, from, to, repair: true, staleAfterMs: options.staleAfterMs, now: to });
    summary.accounts += 1;
    summary.workflows += result.workflows;
    summary.missing += result.missing.length;
    summary.repaired += result.missing.filter((m) => m.repaired).length;
    summary.staleReleased += result.stale_reservations.filter((s) => s.released).length;
    summary.mismatched += result.mismatched.length;
    summary.ok &&= result.ok;
    if (result.missing.length || result.mismatched.length || result.stale_reservations.length) findings.push(result);
    options.onAccount?.(accountId);
  }
  summary.finishedAt = new Date().toISOString();
  await deps.runs.record(summary, { mismatched: summary.mismatched, findings });
  return { summary, findings };
}
