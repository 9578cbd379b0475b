import type { SupervisedState } from '../../src/dev/supervisor';

/** What the cluster drills' global setup starts, and what the drills read back from it. */
export const API_NAMES = ['api-1', 'api-2'] as const;
export const WORKER_NAMES = ['worker-1', 'worker-2'] as const;
export const CLUSTER_TASK_QUEUE = 'cluster-drills';
/** Every answer of the fake model takes this long: events stay in flight while a drill kills something. */
export const FAKE_MODEL_MS = 100;

/** GET /state on the control server. */
export interface ClusterState {
  children: SupervisedState[];
  fakeModelRequests: number;
}
