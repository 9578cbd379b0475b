import { Context } from '@temporalio/activity';
import { DEFAULT_LOOKBACK_MS, reconcileAll, type ReconcileAllDeps } from '../src/billing/reconcile-all';
import type { Logger } from '../src/observability/logger';
import type { ReconcileSummary } from '../src/domain/billing';

export interface ReconcileDeps extends ReconcileAllDeps {
  staleAfterMs: number;
  logger: Logger;
}

export function reconcileActivities(deps: ReconcileDeps) {
  /**
   * One reconcile pass over every account, repairs on: what the `billing-reconcile` Schedule runs.
   * It heartbeats per account; what it found goes to reconcile_runs, one log line, and the worker's
   * metrics (`billing_reconcile_missing_charges`, `billing_reconcile_stale_released`).
   */
  async function reconcileAllAccounts(input: { trigger: ReconcileSummary['trigger'] }): Promise<ReconcileSummary> {
    const context = Context.current();
    const { summary } = await reconcileAll(deps, {
      trigger: input.trigger,
      runId: context.info.workflowExecution?.runId,
      lookbackMs: DEFAULT_LOOKBACK_MS,
      staleAfterMs: deps.staleAfterMs,
      onAccount: (accountId) => context.heartbeat({ accountId }),
    });
    const meter = context.metricMeter;
    meter.createCounter('billing_reconcile_runs', 'runs', 'Scheduled reconcile passes').add(1, { ok: String(summary.ok) });
    meter.createCounter('billing_reconcile_missing_charges', 'charges', 'Charges found in Temporal but not in the ledger').add(summary.missing);
    meter.createCounter('billing_reconcile_stale_released', 'reservations', 'Stale reservations released by reconcile').add(summary.staleReleased);
    const log = summary.ok ? deps.logger.info.bind(deps.logger) : deps.logger.warn.bind(deps.logger);
    log({ ...summary }, summary.ok ? 'billing reconcile: ledger matches Temporal' : 'billing reconcile: differences found');
    return summary;
  }
  return { reconcileAllAccounts };
}
