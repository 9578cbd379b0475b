import { WorkflowFailedError, WorkflowNotFoundError, type Client, type Connection, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { statusQuery, type EventStatus, type EventStep, type WebhookEventResult } from '../../workflows/contract';
import type { MessageStore } from '../stores/messages';
import { upstream } from './errors';

export interface EventStatusView {
  message_id: string;
  employee_id: string;
  event: string | null;
  status: EventStatus;
  received_at: string;
  completed_at: string | null;
  attempts: number;
  credits: number | null;
  error?: { type: string | null; message: string };
  /** Each model turn and tool call so far, in order: kind, name, status, duration_ms. */
  steps: EventStep[];
  /** Null once the workflow is past Temporal's retention. */
  trace_url: string | null;
}

/**
 * Answers "what happened to my event?": the message record and its charge (the database), then
 * Temporal's description (status search attribute, pending activity attempts) and the workflow's
 * own status query while it runs. Past Temporal's retention the record and the ledger still answer.
 */
export class EventStatusReader {
  constructor(
    private readonly client: Client,
    private readonly connection: Connection,
    private readonly messages: MessageStore,
    private readonly traceBaseUrl: string,
    private readonly namespace: string,
  ) {}

  /** Undefined for an unknown message id and for another account's: the caller cannot tell them apart. */
  async get(accountId: string, messageId: string): Promise<EventStatusView | undefined> {
    const record = await upstream('database', () => this.messages.get(accountId, messageId));
    if (!record) return undefined;
    const charge = record.charge;
    const base = {
      message_id: messageId,
      employee_id: record.employeeId,
      event: record.event ?? null,
      received_at: record.receivedAt.toISOString(),
      credits: charge ? -charge.credits : null,
    };

    const deadline = () => Date.now() + 3_000;
    const found = await upstream('temporal', () => this.connection.withDeadline(deadline(), () => this.findRun(record.workflowId, messageId)));
    if (!found) {
      // Past Temporal's retention the history is gone; the ledger still knows: every completed event is charged.
      return {
        ...base,
        status: charge ? 'completed' : 'failed',
        completed_at: charge?.at ?? null,
        attempts: 0,
        steps: [],
        ...(charge ? {} : { error: { type: null, message: 'The event did not complete; its details expired with the workflow history.' } }),
        trace_url: null,
      };
    }
    const { handle, description } = found;
    const pendingAttempt = description.raw.pendingActivities?.[0]?.attempt ?? 0;
    const result = await this.result(description.status.name, () =>
      this.connection.withDeadline(deadline(), () => (description.status.name === 'RUNNING' ? handle.query(statusQuery) : handle.result())),
    );
    const searchStatus = description.searchAttributes.EventStatus?.[0] as EventStatus | undefined;
    const status: EventStatus = result?.status ?? searchStatus ?? 'accepted';
    // A query waits for the workflow task in flight, and the settlement runs inside one (a local
    // activity): an event that ended while we waited was charged after the record was read.
    const settled =
      charge ??
      (status === 'completed' || status === 'failed' ? (await upstream('database', () => this.messages.get(accountId, messageId)))?.charge : undefined);
    return {
      ...base,
      credits: settled ? -settled.credits : null,
      status,
      completed_at: settled?.at ?? (status === 'failed' ? (result?.failedAt ?? description.closeTime?.toISOString() ?? null) : null),
      attempts: Math.max(pendingAttempt, result?.attempts ?? 0),
      steps: result?.steps ?? [],
      ...(result?.error ? { error: { type: result.error.type ?? null, message: result.error.message } } : {}),
      trace_url: traceUrl(this.traceBaseUrl, this.namespace, record.workflowId, description.runId),
    };
  }

  /**
   * The run of this message: the workflow id's latest run, unless a later event reused a keyed id
   * after its window; then the earlier run is found among the id's runs by the message id in its memo.
   */
  private async findRun(workflowId: string, messageId: string) {
    const isOurs = (memo: Record<string, unknown> | undefined) => memo?.messageId === messageId;
    try {
      const latest = this.client.workflow.getHandle(workflowId);
      const description = await latest.describe();
      if (isOurs(description.memo)) return { handle: latest, description };
      const escaped = workflowId.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
      for await (const run of this.client.workflow.list({ query: `WorkflowId = '${escaped}'` })) {
        if (!isOurs(run.memo)) continue;
        const handle: WorkflowHandle = this.client.workflow.getHandle(workflowId, run.runId);
        return { handle, description: await handle.describe() };
      }
      return undefined;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
  }

  /** The workflow's own account of the event; a query needs a worker, so its absence is not an error. */
  private async result(workflowStatus: string, read: () => Promise<WebhookEventResult>): Promise<WebhookEventResult | undefined> {
    try {
      return await read();
    } catch (err) {
      if (err instanceof WorkflowFailedError) {
        const cause = err.cause instanceof ApplicationFailure ? err.cause : undefined;
        // Since the agent loop, a failed event's steps travel in its failure's details.
        const steps = (cause?.details?.[0] as { steps?: EventStep[] } | undefined)?.steps;
        return { messageId: '', status: 'failed', steps, error: { type: cause?.type ?? undefined, message: cause?.message ?? err.message } };
      }
      if (workflowStatus === 'RUNNING') return undefined;
      throw err;
    }
  }
}

/** Opens the event's workflow (the exact run when known) in the Temporal Web UI. */
export function traceUrl(base: string, namespace: string, workflowId: string, runId?: string): string {
  const path = `${base}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  return runId ? `${path}/${runId}/history` : path;
}
