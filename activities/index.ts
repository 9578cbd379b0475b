import { formatWebhookMessage } from '../src/format-message';
import { creditActivities, type CreditDeps } from './credits';
import { employeeActivities, type EmployeeDeps } from './employee';

export interface ActivityDeps extends EmployeeDeps, CreditDeps {}

/** Every activity of the event workflow, built from the clients it needs. */
export function createActivities(deps: ActivityDeps) {
  return {
    /** The exact text the employee receives (see src/format-message.ts). */
    async formatMessage(input: { payload: string; event?: string }): Promise<string> {
      return formatWebhookMessage(input.payload, input.event);
    },
    ...employeeActivities(deps),
    ...creditActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
