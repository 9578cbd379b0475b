import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { DomainError } from '../src/events/errors';
import type { EventReplayer } from '../src/events/replay';
import type { AccountStore } from '../src/stores/accounts';
import type { BulkReplayStore } from '../src/stores/bulk-replays';
import type { AccountRateLimiter } from '../src/stores/redis/rate-limiter';
import type { BulkReplayActivities, BulkStepInput, BulkStepResult } from '../workflows/contract';

export interface BulkReplayDeps {
  bulks: BulkReplayStore;
  replayer: EventReplayer;
  limiter: AccountRateLimiter;
  accounts: AccountStore;
  /** How long an item's replay window holds (REPLAY_RETENTION): longer than any retry of its step. */
  itemWindowMs: number;
}

/** A bulk replay's steps; without deps (a worker with no Redis), they fail with BULK_REPLAY_UNAVAILABLE. */
export function bulkReplayActivities(deps: BulkReplayDeps | undefined): BulkReplayActivities {
  const need = (): BulkReplayDeps => {
    if (!deps) throw ApplicationFailure.retryable('This worker has no Redis for the rate limiter; bulk replays need one.', 'BULK_REPLAY_UNAVAILABLE');
    return deps;
  };
  return {
    /**
     * Replays up to `max` pending items in order, each counted against the account's rate limit
     * first; stops early when the limit is spent and says how long to wait. An item whose replay
     * is refused for a reason of its own (gone past retention, running, employee deleted, no
     * credits) is done with that reason; a dependency failure fails the step, which is retried.
     */
    async replayBulkStep(input: BulkStepInput): Promise<BulkStepResult> {
      const d = need();
      const account = await d.accounts.getAccount(input.accountId);
      const perMinute = account?.rateLimitPerMinute ?? d.limiter.defaultPerMinute;
      for (const item of await d.bulks.pending(input.bulkId, input.max)) {
        const decision = await d.limiter.consume(input.accountId, perMinute);
        if (!decision.allowed) return { remaining: await d.bulks.remaining(input.bulkId), waitMs: Math.max(decision.resetSeconds, 1) * 1_000 };
        try {
          const replayed = await d.replayer.replay({
            accountId: input.accountId,
            messageId: item.messageId,
            idempotencyKey: `bulk:${input.bulkId}`,
            keyWindowMs: d.itemWindowMs,
            requestId: `${input.bulkId}/${item.seq}`,
          });
          await d.bulks.markItem(input.bulkId, item.seq, { replayMessageId: replayed.messageId });
        } catch (err) {
          if (!(err instanceof DomainError) || err.code === 'UPSTREAM_UNAVAILABLE') throw err;
          await d.bulks.markItem(input.bulkId, item.seq, { error: err.code });
        }
        Context.current().heartbeat(item.seq);
      }
      return { remaining: await d.bulks.remaining(input.bulkId), waitMs: 0 };
    },

    async finishBulkReplay(input): Promise<void> {
      await need().bulks.finish(input.bulkId, input.state);
    },
  };
}
