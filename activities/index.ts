import { formatWebhookMessage } from '../src/events/format-message';
import { agentActivities, type AgentDeps } from './agent';
import { creditActivities, type CreditDeps } from './credits';
import { employeeActivities, type EmployeeDeps } from './employee';
import { reconcileActivities, type ReconcileDeps } from './reconcile';
import { webhookActivities, type WebhookDeps } from './webhooks';

export interface ActivityDeps extends EmployeeDeps, CreditDeps, AgentDeps {
  reconcile: ReconcileDeps;
  webhooks: WebhookDeps;
}

/** Every activity of the worker's workflows, built from the clients they need. */
export function createActivities(deps: ActivityDeps) {
  return {
    /** The exact text the employee receives (see src/events/format-message.ts). */
    async formatMessage(input: { payload: string; event?: string }): Promise<string> {
      return formatWebhookMessage(input.payload, input.event);
    },
    ...employeeActivities(deps),
    ...agentActivities(deps),
    ...webhookActivities(deps.webhooks),
    ...creditActivities(deps),
    ...reconcileActivities(deps.reconcile),
  };
}

export type Activities = ReturnType<typeof createActivities>;
