import { allHandlersFinished, condition, continueAsNew, executeChild, setHandler, workflowInfo } from '@temporalio/workflow';
import {
  ACCOUNT_ID,
  EMPLOYEE_ID,
  EVENT_STATUS,
  EVENT_TYPE,
  EVENT_WORKFLOW,
  enqueueSignal,
  queueQuery,
  type EmployeeQueueInput,
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
    queue.push(event);
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
