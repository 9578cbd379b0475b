import { randomUUID } from 'node:crypto';
import type { BulkFilter, BulkProgress, BulkReplayStore } from '../stores/bulk-replays';
import type { EventRuns } from '../temporal/event-runs';
import { DomainError, upstream } from './errors';

export interface BulkOptions {
  taskQueue: string;
  startTimeoutMs: number;
}

/**
 * Bulk replay: counts the ended events a filter matches (the dry run), and on a confirmation that
 * names the same count fixes that set in PostgreSQL and starts the bulk's workflow, which replays
 * each (src/events/replay.ts) paced by the account's rate limit. Progress reads the set; cancel
 * asks the workflow to stop between items.
 */
export class BulkReplays {
  constructor(
    private readonly runs: EventRuns,
    private readonly store: BulkReplayStore,
    private readonly options: BulkOptions,
  ) {}

  async count(accountId: string, filter: BulkFilter): Promise<number> {
    return (await this.matching(accountId, filter)).length;
  }

  /** Starts the bulk if the filter still matches `confirmed` events; 409 with the new count otherwise. */
  async start(accountId: string, filter: BulkFilter, confirmed: number): Promise<{ bulkId: string; count: number }> {
    const ids = await this.matching(accountId, filter);
    if (ids.length !== confirmed) {
      throw new DomainError(
        'BULK_COUNT_CHANGED',
        `The filter now matches ${ids.length} events, not the ${confirmed} confirmed. Send the request again with "count": ${ids.length} to replay them.`,
      );
    }
    const bulkId = `bulk_${randomUUID().replaceAll('-', '')}`;
    await upstream('database', () => this.store.create(bulkId, accountId, filter, ids));
    await upstream('temporal', () =>
      this.runs.startBulk(
        { bulkId, accountId },
        { taskQueue: this.options.taskQueue, timeoutMs: this.options.startTimeoutMs, summary: `replay ${ids.length} events` },
      ),
    );
    return { bulkId, count: ids.length };
  }

  async progress(accountId: string, bulkId: string): Promise<BulkProgress> {
    const progress = await upstream('database', () => this.store.progress(accountId, bulkId));
    if (!progress) throw new DomainError('BULK_NOT_FOUND', 'No bulk replay with this id in this account.');
    return progress;
  }

  /** Cancels a running bulk (it stops between items); a finished one is left as it is. */
  async cancel(accountId: string, bulkId: string): Promise<BulkProgress> {
    const progress = await this.progress(accountId, bulkId);
    if (progress.state === 'running') await upstream('temporal', () => this.runs.cancelBulk(bulkId));
    return progress;
  }

  private matching(accountId: string, filter: BulkFilter): Promise<string[]> {
    return upstream('temporal', () =>
      this.runs.ended(accountId, {
        status: filter.status,
        employeeId: filter.employeeId,
        event: filter.event,
        since: filter.since ? new Date(filter.since) : undefined,
        until: filter.until ? new Date(filter.until) : undefined,
      }),
    );
  }
}
