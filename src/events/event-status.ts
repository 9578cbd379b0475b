import type { EventStatus, EventStep } from '../domain/events';
import type { MessageStore } from '../stores/messages';
import type { EventRuns } from '../temporal/event-runs';
import { upstream } from './errors';
import { tenantFailureMessage } from './failure-messages';

export interface EventStatusView {
  message_id: string;
  employee_id: string;
  event: string | null;
  status: EventStatus;
  received_at: string;
  /** The first original this event replays; null for an event sent by its source. */
  replay_of: string | null;
  /** Batch mode: the first message of the batch this event ran in (the batch's charge is posted there). */
  batch_of: string | null;
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
 * the run's description and its own account of itself (event-runs.ts). Past Temporal's retention
 * the record and the ledger still answer.
 */
export class EventStatusReader {
  constructor(
    private readonly runs: EventRuns,
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
      replay_of: record.replayOf ?? null,
      batch_of: record.batchOf ?? null,
      credits: charge ? -charge.credits : null,
    };

    // A batched event ran in its batch's run, under the batch's first message; it is charged nothing itself.
    const batchRecord =
      record.batchOf && record.batchOf !== messageId ? await upstream('database', () => this.messages.get(accountId, record.batchOf!)) : undefined;
    const runOf = batchRecord ?? record;
    const run = await upstream('temporal', () => this.runs.find(runOf.workflowId, runOf.messageId));
    if (batchRecord && run) {
      const result = await upstream('temporal', () => this.runs.progress(run));
      const status: EventStatus = result?.status ?? run.searchStatus ?? 'processing';
      return {
        ...base,
        credits: null,
        status,
        completed_at: batchRecord.charge?.at ?? (status === 'failed' ? (result?.failedAt ?? run.closeTime?.toISOString() ?? null) : null),
        attempts: Math.max(run.pendingAttempt, result?.attempts ?? 0),
        steps: result?.steps ?? [],
        ...(result?.error ? { error: { type: result.error.type ?? null, message: tenantFailureMessage(result.error.type, result.error.message) } } : {}),
        trace_url: traceUrl(this.traceBaseUrl, this.namespace, runOf.workflowId, run.runId),
      };
    }
    if (!run && record.queuedAt && record.unsettled) {
      // Held by its employee's queue workflow (ordered mode): its own workflow starts when its turn comes.
      return { ...base, status: 'queued', completed_at: null, attempts: 0, steps: [], trace_url: null };
    }
    if (!run) {
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
    const result = await upstream('temporal', () => this.runs.progress(run));
    const status: EventStatus = result?.status ?? run.searchStatus ?? 'accepted';
    // A query waits for the workflow task in flight, and the settlement runs inside one (a local
    // activity): an event that ended while we waited was charged after the record was read.
    const settled =
      charge ??
      (status === 'completed' || status === 'failed' ? (await upstream('database', () => this.messages.get(accountId, messageId)))?.charge : undefined);
    return {
      ...base,
      credits: settled ? -settled.credits : null,
      status,
      completed_at: settled?.at ?? (status === 'failed' ? (result?.failedAt ?? run.closeTime?.toISOString() ?? null) : null),
      attempts: Math.max(run.pendingAttempt, result?.attempts ?? 0),
      steps: result?.steps ?? [],
      ...(result?.error ? { error: { type: result.error.type ?? null, message: tenantFailureMessage(result.error.type, result.error.message) } } : {}),
      trace_url: traceUrl(this.traceBaseUrl, this.namespace, record.workflowId, run.runId),
    };
  }
}

/** Opens the event's workflow (the exact run when known) in the Temporal Web UI. */
export function traceUrl(base: string, namespace: string, workflowId: string, runId?: string): string {
  const path = `${base}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  return runId ? `${path}/${runId}/history` : path;
}
