import { formatWebhookMessage } from '../src/format-message';
import { creditActivities } from './credits';
import { employeeActivities, type EmployeeDeps } from './employee';
import type { Ledger, Price } from '../src/stores/ledger';

export interface ActivityDeps extends EmployeeDeps {
  ledger: Ledger;
  price: Price;
}

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
