import { Context } from '@temporalio/activity';

/** Well inside every heartbeat timeout the workflows set (10 s): a dead worker is noticed in seconds. */
export const HEARTBEAT_EVERY_MS = 1_000;

/**
 * Runs `work` while heartbeating the current activity every second, with its cancellation signal:
 * for activities that wait on the outside (a model, a receiver) for longer than a heartbeat timeout.
 */
export async function withHeartbeat<T>(work: (signal: AbortSignal) => Promise<T>, details?: unknown): Promise<T> {
  const context = Context.current();
  const timer = setInterval(() => context.heartbeat(details), HEARTBEAT_EVERY_MS);
  try {
    return await work(context.cancellationSignal);
  } finally {
    clearInterval(timer);
  }
}
