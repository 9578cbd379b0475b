import type { MessageStore } from '../src/stores/messages';
import type { LinkBatchInput } from '../workflows/contract';

export interface BatchDeps {
  messages: MessageStore;
}

export function batchActivities(deps: BatchDeps) {
  /** Records on each message of a batch the batch it ran in (its first message); a retry writes the same. */
  async function linkBatch(input: LinkBatchInput): Promise<void> {
    await deps.messages.linkBatch(input.accountId, input.batchOf, input.messageIds);
  }
  return { linkBatch };
}
