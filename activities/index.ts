import { formatWebhookMessage } from '../src/events/format-message';
import { creditActivities, type CreditDeps } from './credits';
import { employeeActivities, type EmployeeDeps } from './employee';
import { reconcileActivities, type ReconcileDeps } from './reconcile';

export interface ActivityDeps extends EmployeeDeps, CreditDeps {
  reconcile: ReconcileDeps;
}

/** Every activity of the worker's workflows, built from the clients they need. */
export function createActivities(deps: ActivityDeps) {
  return {
    /** The exact text the employee receives (see src/events/format-message.ts). */
    async formatMessage(input: { payload: string; event?: string }): Promise<string> {
      return formatWebhookMessage(input.payload, input.event);
    },
    ...employeeActivities(deps),
    ...creditActivities(deps),
    ...reconcileActivities(deps.reconcile),
  };
}

export type Activities = ReturnType<typeof createActivities>;
