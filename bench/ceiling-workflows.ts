import { proxyActivities } from '@temporalio/workflow';

/** The ceiling worker's activity: does nothing, so only Temporal's round trip is measured. */
export interface CeilingActivities {
  noop(): Promise<void>;
}

const { noop } = proxyActivities<CeilingActivities>({ startToCloseTimeout: '30s' });

/** Raw start ceiling: started on a queue nobody polls, so only the start itself costs. */
export async function noopWorkflow(): Promise<void> {}

/** One-activity ceiling: one workflow task, one activity, one more workflow task. */
export async function oneActivityWorkflow(): Promise<void> {
  await noop();
}
