import { proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { ReconcileSummary } from '../src/domain/billing';
import type { ReconcileActivities } from './contract';

/**
 * One pass over every account may read many visibility pages and post repairs; it heartbeats per
 * account, and a failed pass is retried a few times before the next scheduled one takes over.
 */
const OPTIONS: ActivityOptions = {
  startToCloseTimeout: '30m',
  heartbeatTimeout: '2m',
  retry: { initialInterval: '10s', maximumAttempts: 3 },
};
const { reconcileAllAccounts } = proxyActivities<ReconcileActivities>(OPTIONS);

/**
 * Started by the `billing-reconcile` Schedule (RECONCILE_SCHEDULE_ID): reconciles every account's
 * ledger with the charges in Temporal, repairs what it can, and returns what it found (also kept in
 * the database's reconcile_runs and shown by `sistava billing reconcile --history`).
 */
export async function reconcileBilling(): Promise<ReconcileSummary> {
  return reconcileAllAccounts.executeWithOptions({ ...OPTIONS, summary: 'reconcile every account' }, [{ trigger: 'schedule' }]);
}
