import type { EventActivities, ReconcileActivities } from '../workflows/contract';
import { agentActivities, type AgentDeps } from './agent';
import { creditActivities, type CreditDeps } from './credits';
import { reconcileActivities, type ReconcileDeps } from './reconcile';
import { webhookActivities, type WebhookDeps } from './webhooks';

export interface ActivityDeps extends CreditDeps, AgentDeps {
  reconcile: ReconcileDeps;
  webhooks: WebhookDeps;
}

/** Every activity of the worker's workflows, built from the clients they need; the contract names their signatures. */
export function createActivities(deps: ActivityDeps): EventActivities & ReconcileActivities {
  return {
    ...agentActivities(deps),
    ...webhookActivities(deps.webhooks),
    ...creditActivities(deps),
    ...reconcileActivities(deps.reconcile),
  };
}
