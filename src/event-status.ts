import { WorkflowFailedError, WorkflowNotFoundError, type Client, type Connection } from '@temporalio/client';
import { upstream } from './http/errors';
import { ApplicationFailure } from '@temporalio/common';
import type { Redis } from 'ioredis';
import { keys } from './stores/keys';
import type { Ledger } from './stores/ledger';
import type { EventStatus, WebhookEventResult } from '../workflows/types';

/** What the API remembers of an accepted event, to find its workflow from a message id. */
export interface MessageRecord {
  accountId: string;
  employeeId: string;
  workflowId: string;
  runId?: string;
  event?: string;
  receivedAt: number;
}

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
  /** Null once the workflow is past Temporal's retention. */
  trace_url: string | null;
}

/** Message records outlive the dev namespace's 24 h retention of closed workflows. */
export const MESSAGE_RECORD_TTL_SECONDS = 7 * 24 * 3600;

/**
 * Answers "what happened to my event?": Temporal's description (status search attribute, pending
 * activity attempts), the workflow's own status query while it runs, and the ledger's posting.
 */
export class EventStatusReader {
  constructor(
    private readonly client: Client,
    private readonly connection: Connection,
    private readonly redis: Redis,
    private readonly ledger: Ledger,
    private readonly traceBaseUrl: string,
    private readonly namespace: string,
  ) {}

  /** Undefined for an unknown message id and for another account's: the caller cannot tell them apart. */
  async get(accountId: string, messageId: string): Promise<EventStatusView | undefined> {
    const raw = await upstream('redis', () => this.redis.get(keys.message(messageId)));
    if (!raw) return undefined;
    const record = JSON.parse(raw) as MessageRecord;
    if (record.accountId !== accountId) return undefined;
    const charge = await upstream('redis', () => this.ledger.chargeFor(accountId, messageId));
    const base = {
      message_id: messageId,
      employee_id: record.employeeId,
      event: record.event ?? null,
      received_at: new Date(record.receivedAt).toISOString(),
      credits: charge ? -charge.credits : null,
    };

    const handle = this.client.workflow.getHandle(record.workflowId, record.runId);
    const deadline = () => Date.now() + 3_000;
    const description = await upstream('temporal', () => this.connection.withDeadline(deadline(), () => handle.describe())).catch((err) => {
      if ((err as { cause?: unknown }).cause instanceof WorkflowNotFoundError) return undefined;
      throw err;
    });
    if (!description) {
      // Past Temporal's retention the history is gone; the ledger still knows: every completed event is charged.
      return {
        ...base,
        status: charge ? 'completed' : 'failed',
        completed_at: charge?.at ?? null,
        attempts: 0,
        ...(charge ? {} : { error: { type: null, message: 'The event did not complete; its details expired with the workflow history.' } }),
        trace_url: null,
      };
    }
    const pendingAttempt = description.raw.pendingActivities?.[0]?.attempt ?? 0;
    const result = await this.result(description.status.name, () =>
      this.connection.withDeadline(deadline(), () => (description.status.name === 'RUNNING' ? handle.query<WebhookEventResult>('status') : handle.result())),
    );
    const searchStatus = description.searchAttributes.EventStatus?.[0] as EventStatus | undefined;
    const status: EventStatus = result?.status ?? searchStatus ?? 'accepted';
    return {
      ...base,
      status,
      completed_at: charge?.at ?? (status === 'failed' ? (result?.failedAt ?? description.closeTime?.toISOString() ?? null) : null),
      attempts: Math.max(pendingAttempt, result?.attempts ?? 0),
      ...(result?.error ? { error: { type: result.error.type ?? null, message: result.error.message } } : {}),
      trace_url: traceUrl(this.traceBaseUrl, this.namespace, record.workflowId, record.runId),
    };
  }

  /** The workflow's own account of the event; a query needs a worker, so its absence is not an error. */
  private async result(workflowStatus: string, read: () => Promise<WebhookEventResult>): Promise<WebhookEventResult | undefined> {
    try {
      return await read();
    } catch (err) {
      if (err instanceof WorkflowFailedError) {
        const cause = err.cause instanceof ApplicationFailure ? err.cause : undefined;
        return { messageId: '', status: 'failed', error: { type: cause?.type ?? undefined, message: cause?.message ?? err.message } };
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
