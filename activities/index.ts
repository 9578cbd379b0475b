import type { BulkReplayActivities, EventActivities, ReconcileActivities } from '../workflows/contract';
import { batchActivities, type BatchDeps } from './batches';
import { bulkReplayActivities, type BulkReplayDeps } from './bulk-replay';
import { agentActivities, type AgentDeps } from './agent';
import { creditActivities, type CreditDeps } from './credits';
import { reconcileActivities, type ReconcileDeps } from './reconcile';
import { webhookActivities, type WebhookDeps } from './webhooks';

export interface ActivityDeps extends CreditDeps, AgentDeps, BatchDeps {
  reconcile: ReconcileDeps;
  webhooks: WebhookDeps;
  /** Absent on a worker without Redis: its bulk replay steps fail (and are retried elsewhere). */
  bulk?: BulkReplayDeps;
}

/** Every activity of the worker's workflows, built from the clients they need; the contract names their signatures. */
export function createActivities(deps: ActivityDeps): EventActivities & ReconcileActivities & BulkReplayActivities {
  return {
    ...agentActivities(deps),
    ...webhookActivities(deps.webhooks),
    ...creditActivities(deps),
    ...batchActivities(deps),
    ...reconcileActivities(deps.reconcile),
    ...bulkReplayActivities(deps.bulk),
  };
}
