import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleOptionsAction, type ScheduleSpec } from '@temporalio/client';
import { RECONCILE_SCHEDULE_ID, RECONCILE_WORKFLOW } from '../../workflows/contract';

/**
 * The `billing-reconcile` Schedule, created when a worker starts, or brought in line with this
 * worker's settings when it exists already: every worker may call this at once, and the result is
 * one Schedule. It shows in the Temporal UI under Schedules; an operator can pause or trigger it there.
 */
export async function ensureReconcileSchedule(client: Client, options: { taskQueue: string; every: string }): Promise<'created' | 'updated'> {
  const spec: ScheduleSpec = { intervals: [{ every: options.every as `${number}${'ms' | 's' | 'm' | 'h'}` }] };
  const action: ScheduleOptionsAction = {
    type: 'startWorkflow',
    workflowType: RECONCILE_WORKFLOW,
    taskQueue: options.taskQueue,
    workflowId: 'billing-reconcile',
    staticSummary: 'Reconcile every account’s ledger with the charges in Temporal',
  };
  try {
    await client.schedule.create({
      scheduleId: RECONCILE_SCHEDULE_ID,
      spec,
      action,
      // A pass still running when the next is due: skip the next one rather than run two.
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1m' },
    });
    return 'created';
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(RECONCILE_SCHEDULE_ID).update((previous) => ({ ...previous, spec, action }));
    return 'updated';
  }
}
