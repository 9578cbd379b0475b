import { allHandlersFinished, condition, continueAsNew, executeChild, setHandler, workflowInfo } from '@temporalio/workflow';
import {
  ACCOUNT_ID,
  EMPLOYEE_ID,
  EVENT_STATUS,
  EVENT_TYPE,
  EVENT_BATCH_WORKFLOW,
  EVENT_WORKFLOW,
  enqueueSignal,
  queueQuery,
  type EmployeeQueueInput,
  type ProcessWebhookBatch,
  type ProcessWebhookEvent,
  type QueuedEvent,
  type RunEmployeeQueue,
} from './contract';

/** An empty queue with nothing running ends after this long; the next event's signalWithStart starts it again. */
const IDLE_MS = 60_000;
/** Signals one run takes, as a multiple of the events it starts, before it continues as new. */
const SIGNALS_PER_RUN_FACTOR = 4;

/**
 * One employee's events in ordered mode: a long-lived workflow fed by `signalWithStart`. Events
 * start in the order their signals arrived, each as a child `processWebhookEvent` under its own
 * workflow id (its own trace, status and settlement), at most `concurrency` at once (the head's).
 * Before the history grows large it lets the running children finish, waits for its handlers and
 * continues as new with the queue; signals that arrive meanwhile are in the queue it carries.
 */
export async function runEmployeeQueue(input: EmployeeQueueInput): Promise<void> {
  const queue: QueuedEvent[] = [...input.queue];
  const running = new Set<string>();
  let started = 0;
  let received = 0;
  setHandler(enqueueSignal, (event) => {
    received += 1;
    queue.push({ ...event, arrivedAt: event.arrivedAt ?? Date.now() });
  });
  setHandler(queueQuery, () => ({ queued: queue.map((e) => e.input.messageId), running: [...running] }));

  const canStart = () => queue.length > 0 && running.size < queue[0].concurrency;
  // Signals are bounded per run too (the server refuses signals past its per-execution limit).
  const full = () => started >= input.eventsPerRun || received >= SIGNALS_PER_RUN_FACTOR * input.eventsPerRun || workflowInfo().continueAsNewSuggested;
  let idle = false;
  while (!full()) {
    if (!(await condition(canStart, IDLE_MS))) {
      if (queue.length === 0 && running.size === 0) {
        idle = true;
        break;
      }
      continue;
    }
    if (queue[0].batch) {
      await gather(queue);
      const batch = takeBatch(queue);
      started += batch.length;
      running.add(batch[0].input.messageId);
      void runBatch(batch).finally(() => running.delete(batch[0].input.messageId));
      continue;
    }
    const event = queue.shift()!;
    started += 1;
    running.add(event.input.messageId);
    void runEvent(event).finally(() => running.delete(event.input.messageId));
  }
  // The next run starts with nothing in flight, so its cap and order hold from its first event.
  await condition(() => running.size === 0);
  await condition(allHandlersFinished);
  if (idle && queue.length === 0) return;
  await continueAsNew<RunEmployeeQueue>({ ...input, queue });
}

/** The batch-mode events at the head of the queue (a mode change ends a batch). */
function batchable(queue: QueuedEvent[]): number {
  let n = 0;
  while (n < queue.length && queue[n].batch) n += 1;
  return n;
}

/**
 * Batch mode's window, from the head's settings: it closes once no event arrived for `debounceMs`,
 * `maxWaitMs` after the head arrived, or once `maxBatch` events wait. Events that arrive meanwhile
 * are in `queue` (the signal handler adds them).
 */
async function gather(queue: QueuedEvent[]): Promise<void> {
  const head = queue[0];
  const settings = head.batch!;
  const closesAt = (head.arrivedAt ?? Date.now()) + settings.maxWaitMs;
  for (;;) {
    const count = batchable(queue);
    const wait = Math.min(settings.debounceMs, closesAt - Date.now());
    if (count >= settings.maxBatch || wait <= 0) return;
    if (!(await condition(() => batchable(queue) > count, wait))) return;
  }
}

function takeBatch(queue: QueuedEvent[]): QueuedEvent[] {
  return queue.splice(0, Math.min(batchable(queue), queue[0].batch!.maxBatch));
}

/** One run for the batch, under its first event's workflow id, memo and trace. */
async function runBatch(batch: QueuedEvent[]): Promise<void> {
  const first = batch[0];
  try {
    await executeChild<ProcessWebhookBatch>(EVENT_BATCH_WORKFLOW, {
      workflowId: first.workflowId,
      args: [{ events: batch.map((e) => e.input) }],
      memo: { ...first.memo },
      staticSummary: `batch of ${batch.length}: ${first.summary}`,
      parentClosePolicy: 'ABANDON',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      typedSearchAttributes: [
        { key: ACCOUNT_ID, value: first.input.accountId },
        { key: EMPLOYEE_ID, value: first.input.employeeId },
        { key: EVENT_TYPE, value: first.input.event ?? '' },
        { key: EVENT_STATUS, value: 'accepted' },
      ],
    });
  } catch {
    // The batch failed in its own workflow, which settled every message of it.
  }
}

/** The event's own workflow: it settles its credits and reports its failure itself; the queue moves on either way. */
async function runEvent(event: QueuedEvent): Promise<void> {
  try {
    await executeChild<ProcessWebhookEvent>(EVENT_WORKFLOW, {
      workflowId: event.workflowId,
      args: [event.input],
      memo: { ...event.memo },
      staticSummary: event.summary,
      // A queue that is terminated or reset must not take running events with it.
      parentClosePolicy: 'ABANDON',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      typedSearchAttributes: [
        { key: ACCOUNT_ID, value: event.input.accountId },
        { key: EMPLOYEE_ID, value: event.input.employeeId },
        { key: EVENT_TYPE, value: event.input.event ?? '' },
        { key: EVENT_STATUS, value: 'accepted' },
      ],
    });
  } catch {
    // A failed event is failed in its own workflow (and charged only what it used); nothing to add here.
  }
}
