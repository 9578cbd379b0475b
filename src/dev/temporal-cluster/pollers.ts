import { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { waitFor } from '../services';

/** The identities (`pid@host`) polling a task queue for workflow tasks, as the frontend reports them. */
export async function taskQueuePollers(address: string, namespace: string, taskQueue: string): Promise<string[]> {
  const connection = await Connection.connect({ address, connectTimeout: 2_000 });
  try {
    const res = await connection.withDeadline(Date.now() + 5_000, () =>
      connection.workflowService.describeTaskQueue({
        namespace,
        taskQueue: { name: taskQueue },
        taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
      }),
    );
    return (res.pollers ?? []).map((p) => p.identity ?? '').filter(Boolean);
  } finally {
    await connection.close();
  }
}

/** Waits until every process in `pids` polls the task queue (their identity is `pid@host`). */
export async function waitForPollers(address: string, namespace: string, taskQueue: string, pids: number[], timeoutMs = 120_000): Promise<void> {
  await waitFor(
    `workers ${pids.join(', ')} polling ${taskQueue}`,
    async () => {
      const polling = new Set((await taskQueuePollers(address, namespace, taskQueue)).map((identity) => Number(identity.split('@')[0])));
      const missing = pids.filter((pid) => !polling.has(pid));
      if (missing.length) throw new Error(`not polling yet: ${missing.join(', ')}`);
    },
    timeoutMs,
  );
}
