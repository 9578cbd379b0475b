import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

const EventType = temporal.api.enums.v1.EventType;

/** How many events one workflow's history holds, and how many of them write its visibility record. */
export interface HistoryShape {
  /** Histories read (a sample of the phase's workflows). */
  sampled: number;
  events_per_workflow: number;
  workflow_tasks_per_workflow: number;
  activity_tasks_per_workflow: number;
  /** Local activities: a marker each, run inside a workflow task (no task of their own). */
  local_activities_per_workflow: number;
  /**
   * Writes to the visibility store per workflow: the start, each search-attribute upsert, each memo
   * upsert, the close. The status API and the Temporal UI's list read these.
   */
  visibility_writes_per_workflow: number;
  /** Event type → count per workflow, for the JSON. */
  by_type: Record<string, number>;
}

const VISIBILITY = new Set<number>([
  EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
  EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
  EventType.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED,
  EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
  EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
  EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
  EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
  EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
  EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
]);

/** Reads the histories of `workflowIds` (closed workflows) and averages their shape. */
export async function historyShape(client: Client, workflowIds: readonly string[]): Promise<HistoryShape> {
  const counts = new Map<string, number>();
  let events = 0;
  let visibility = 0;
  for (const id of workflowIds) {
    const history = await client.workflow.getHandle(id).fetchHistory();
    for (const event of history.events ?? []) {
      const type = event.eventType ?? 0;
      const name = (EventType[type] ?? String(type)).replace(/^EVENT_TYPE_/, '');
      counts.set(name, (counts.get(name) ?? 0) + 1);
      events += 1;
      if (VISIBILITY.has(type)) visibility += 1;
    }
  }
  const n = Math.max(workflowIds.length, 1);
  const per = (name: string) => round((counts.get(name) ?? 0) / n);
  return {
    sampled: workflowIds.length,
    events_per_workflow: round(events / n),
    workflow_tasks_per_workflow: per('WORKFLOW_TASK_COMPLETED'),
    activity_tasks_per_workflow: per('ACTIVITY_TASK_SCHEDULED'),
    local_activities_per_workflow: per('MARKER_RECORDED'),
    visibility_writes_per_workflow: round(visibility / n),
    by_type: Object.fromEntries([...counts].sort().map(([k, v]) => [k, round(v / n)])),
  };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
