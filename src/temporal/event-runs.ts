import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowExecutionDescription,
  type WorkflowExecutionInfo,
  type WorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { decodeArrayFromPayloads } from '@temporalio/common/lib/internal-non-workflow';
import { z } from 'zod';
import type { Posting } from '../domain/billing';
import type { EventStatus } from '../domain/events';
import {
  ACCOUNT_ID,
  EMPLOYEE_ID,
  EVENT_STATUS,
  EVENT_TYPE,
  EVENT_WORKFLOW,
  EMPLOYEE_QUEUE_WORKFLOW,
  BULK_REPLAY_WORKFLOW,
  type BulkReplay,
  type BulkReplayInput,
  enqueueSignal,
  statusQuery,
  type BatchSettings,
  type EmployeeQueueInput,
  type QueuedEvent,
  type RunEmployeeQueue,
  type EventFailureDetails,
  type EventMemo,
  type ProcessWebhookEvent,
  type WebhookEventInput,
  type WebhookEventResult,
} from '../../workflows/contract';

/**
 * The only code that talks to Temporal about event runs: it starts, describes, queries and lists
 * event workflows, and reads their memo and failure details, each through one typed codec below.
 * Ingest, the status API and reconcile use it; nothing else builds a query string or casts a memo.
 */

/** The memo as written at the start and upserted by the settlement, checked when read back. */
const MemoCodec = z.object({
  messageId: z.string(),
  employeeId: z.string(),
  requestId: z.string().catch(''),
  idempotencyKey: z.string().nullable().catch(null),
  receivedAt: z.string(),
  dedupUntil: z.number().nullable().catch(null),
  settled: z.boolean().optional(),
  charge: z
    .custom<Posting>((v) => typeof v === 'object' && v !== null && typeof (v as Posting).credits === 'number')
    .nullable()
    .optional(),
});

const FailureDetailsCodec = z.object({
  steps: z.array(
    z.object({
      kind: z.enum(['model', 'tool']),
      name: z.string(),
      status: z.enum(['completed', 'failed']),
      duration_ms: z.number(),
      endpoint: z.string().optional(),
      bytes: z.number().optional(),
      sha256: z.string().optional(),
    }),
  ),
});

/** The memo of a run, or undefined when it is not an event's memo (another workflow, or a foreign one). */
export function readMemo(raw: Record<string, unknown> | undefined): EventMemo | undefined {
  const parsed = MemoCodec.safeParse(raw ?? {});
  return parsed.success ? parsed.data : undefined;
}

/** The memo the API writes when it starts an event. */
export function startMemo(input: WebhookEventInput): EventMemo {
  return {
    messageId: input.messageId,
    employeeId: input.employeeId,
    requestId: input.requestId,
    idempotencyKey: input.idempotencyKey ?? null,
    receivedAt: new Date(input.receivedAt).toISOString(),
    dedupUntil: input.dedupUntil ?? null,
  };
}

/** The steps a failed event's ApplicationFailure carries (workflows/failures.ts writes them). */
export function readFailureDetails(failure: ApplicationFailure): EventFailureDetails | undefined {
  const parsed = FailureDetailsCodec.safeParse(failure.details?.[0]);
  return parsed.success ? parsed.data : undefined;
}

/** One run of an event's workflow, as Temporal describes it. */
export interface EventRun {
  handle: WorkflowHandle;
  runId: string;
  running: boolean;
  memo: EventMemo;
  /** The EventStatus search attribute: what the workflow said last. */
  searchStatus?: EventStatus;
  /** The attempt of the activity in flight (0 when none). */
  pendingAttempt: number;
  closeTime?: Date;
}

/** A run found by a visibility listing, with the charge its settlement recorded in the memo. */
export interface RecordedRun {
  workflowId: string;
  runId: string;
  running: boolean;
  messageId: string;
  /** True once the event settled; `charge` is then its posting, or undefined when it was not charged. */
  settled: boolean;
  charge?: Posting;
}

/** What Temporal knows of the run of one message: whether it will still settle its reservation. */
export type RunState = 'running' | 'closed' | 'absent';

export interface StartOptions {
  taskQueue: string;
  /** The UI's one-line summary of the run. */
  summary: string;
  /** gRPC deadline of the call, so an unreachable Temporal answers in bounded time. */
  timeoutMs: number;
}

/** A failed event as the dead-letter list shows it. */
export interface FailedRun {
  /** From the workflow id (`webhook/<account_id>/…`, src/events/workflow-id.ts). */
  accountId: string;
  workflowId: string;
  runId: string;
  messageId: string;
  employeeId: string;
  event?: string;
  error: { type?: string; message: string };
  /** Attempts of the step that failed (the most any activity of the run took). */
  attempts: number;
  failedAt?: Date;
}

/** Which ended events a bulk replay takes. */
export interface EndedFilter {
  status: 'failed' | 'completed';
  employeeId?: string;
  event?: string;
  /** Accepted at or after / before (the event workflow's start). */
  since?: Date;
  until?: Date;
}

export interface EnqueueOptions extends StartOptions {
  /** The queue workflow's id (one per employee). */
  queueWorkflowId: string;
  concurrency: number;
  eventsPerRun: number;
  /** Batch mode's window, when the employee is in batch mode. */
  batch?: BatchSettings;
}

export class EventRuns {
  constructor(private readonly client: Client) {}

  /**
   * Hands an event to its employee's queue workflow (ordered mode) with `signalWithStart`: the
   * signal is durably in the queue's history when this returns, and the event's own workflow starts
   * under `workflowId` when its turn comes.
   */
  async enqueue(workflowId: string, input: WebhookEventInput, options: EnqueueOptions): Promise<void> {
    const event: QueuedEvent = {
      input,
      workflowId,
      memo: startMemo(input),
      summary: options.summary,
      concurrency: options.concurrency,
      ...(options.batch ? { batch: options.batch } : {}),
    };
    await this.client.connection.withDeadline(Date.now() + options.timeoutMs, () =>
      this.client.workflow.signalWithStart<RunEmployeeQueue, [QueuedEvent]>(EMPLOYEE_QUEUE_WORKFLOW, {
        taskQueue: options.taskQueue,
        workflowId: options.queueWorkflowId,
        args: [{ accountId: input.accountId, employeeId: input.employeeId, queue: [], eventsPerRun: options.eventsPerRun }],
        signal: enqueueSignal,
        signalArgs: [event],
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        staticSummary: `ordered events of employee ${input.employeeId}`,
        typedSearchAttributes: [
          { key: ACCOUNT_ID, value: input.accountId },
          { key: EMPLOYEE_ID, value: input.employeeId },
        ],
      }),
    );
  }

  /** The message ids of the account's ended events that match, oldest first: what a bulk replay starts. */
  async ended(accountId: string, filter: EndedFilter): Promise<string[]> {
    const query = [
      `WorkflowType = ${quote(EVENT_WORKFLOW)}`,
      `${ACCOUNT_ID.name} = ${quote(accountId)}`,
      `${EVENT_STATUS.name} = ${quote(filter.status)}`,
      `ExecutionStatus != 'Running'`,
      ...(filter.employeeId ? [`${EMPLOYEE_ID.name} = ${quote(filter.employeeId)}`] : []),
      ...(filter.event ? [`${EVENT_TYPE.name} = ${quote(filter.event)}`] : []),
      ...(filter.since ? [`StartTime >= ${quote(filter.since.toISOString())}`] : []),
      ...(filter.until ? [`StartTime < ${quote(filter.until.toISOString())}`] : []),
    ].join(' AND ');
    const found: { messageId: string; at: number }[] = [];
    for await (const execution of this.client.workflow.list({ query })) {
      const memo = readMemo(execution.memo);
      if (memo) found.push({ messageId: memo.messageId, at: execution.startTime.getTime() });
    }
    return found.sort((a, b) => a.at - b.at).map((f) => f.messageId);
  }

  /** Starts a confirmed bulk replay's workflow; its id is the bulk's. */
  async startBulk(input: BulkReplayInput, options: StartOptions): Promise<void> {
    await this.client.connection.withDeadline(Date.now() + options.timeoutMs, () =>
      this.client.workflow.start<BulkReplay>(BULK_REPLAY_WORKFLOW, {
        taskQueue: options.taskQueue,
        workflowId: bulkWorkflowId(input.bulkId),
        args: [input],
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        staticSummary: options.summary,
        typedSearchAttributes: [{ key: ACCOUNT_ID, value: input.accountId }],
      }),
    );
  }

  /** Asks a bulk replay to stop between items. */
  async cancelBulk(bulkId: string): Promise<void> {
    await this.client.workflow.getHandle(bulkWorkflowId(bulkId)).cancel();
  }

  /**
   * Whether the queue's latest run holds the message: its signal is in the history, or the run
   * started with it in the queue it carried. For an enqueue whose answer was lost (a deadline, a
   * dropped connection): the signal may have landed all the same.
   */
  async queueHolds(queueWorkflowId: string, messageId: string, timeoutMs: number): Promise<boolean> {
    return this.client.connection.withDeadline(Date.now() + timeoutMs, async () => {
      let history;
      try {
        history = await this.client.workflow.getHandle(queueWorkflowId).fetchHistory();
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return false;
        throw err;
      }
      const converter = this.client.options.loadedDataConverter;
      for (const e of history.events ?? []) {
        const signal = e.workflowExecutionSignaledEventAttributes;
        if (signal?.signalName === enqueueSignal.name) {
          const [event] = (await decodeArrayFromPayloads(converter, signal.input?.payloads)) as [QueuedEvent | undefined];
          if (event?.input?.messageId === messageId) return true;
        }
        const started = e.workflowExecutionStartedEventAttributes;
        if (started) {
          const [input] = (await decodeArrayFromPayloads(converter, started.input?.payloads)) as [EmployeeQueueInput | undefined];
          if (input?.queue?.some((q) => q.input.messageId === messageId)) return true;
        }
      }
      return false;
    });
  }

  /**
   * The account's failed events (the dead-letter view), most recently failed first, a page at a
   * time: `cursor` is the page token of the previous page's listing, opaque to callers. Without an
   * account (operators), every account's.
   */
  async failed(
    accountId: string | undefined,
    options: { since?: Date; cursor?: Uint8Array; limit: number },
  ): Promise<{ runs: FailedRun[]; next?: Uint8Array }> {
    const query = [
      `WorkflowType = ${quote(EVENT_WORKFLOW)}`,
      ...(accountId ? [`${ACCOUNT_ID.name} = ${quote(accountId)}`] : []),
      `${EVENT_STATUS.name} = 'failed'`,
      `ExecutionStatus != 'Running'`,
      ...(options.since ? [`CloseTime >= ${quote(options.since.toISOString())}`] : []),
    ].join(' AND ');
    const page = await this.client.workflowService.listWorkflowExecutions({
      namespace: this.client.options.namespace,
      query,
      pageSize: options.limit,
      nextPageToken: options.cursor,
    });
    const runs: (FailedRun | undefined)[] = page.executions.map(() => undefined);
    await forEachLimited([...page.executions.entries()], 8, async ([index, execution]) => {
      const workflowId = execution.execution?.workflowId ?? '';
      const runId = execution.execution?.runId ?? '';
      const handle = this.client.workflow.getHandle(workflowId, runId);
      const run = toRun(handle, await handle.describe());
      if (!run) return;
      const progress = await this.progress(run);
      runs[index] = {
        accountId: workflowId.split('/')[1] ?? '',
        workflowId,
        runId,
        messageId: run.memo.messageId,
        employeeId: run.memo.employeeId,
        error: progress?.error ?? { message: 'The event failed.' },
        attempts: await attemptsOf(handle),
        failedAt: run.closeTime,
      };
    });
    const token = page.nextPageToken && page.nextPageToken.length > 0 ? page.nextPageToken : undefined;
    return { runs: runs.filter((r): r is FailedRun => r !== undefined), next: token };
  }

  /**
   * Starts the event's workflow. A running workflow with the same id refuses (`FAIL`), and so
   * reports `'running'`; a closed one may be followed by a new run: the database guards windows.
   */
  async start(workflowId: string, input: WebhookEventInput, options: StartOptions): Promise<'started' | 'running'> {
    try {
      await this.client.connection.withDeadline(Date.now() + options.timeoutMs, () =>
        this.client.workflow.start<ProcessWebhookEvent>(EVENT_WORKFLOW, {
          taskQueue: options.taskQueue,
          workflowId,
          args: [input],
          workflowIdReusePolicy: 'ALLOW_DUPLICATE',
          workflowIdConflictPolicy: 'FAIL',
          staticSummary: options.summary,
          memo: { ...startMemo(input) },
          typedSearchAttributes: [
            { key: ACCOUNT_ID, value: input.accountId },
            { key: EMPLOYEE_ID, value: input.employeeId },
            { key: EVENT_TYPE, value: input.event ?? '' },
            { key: EVENT_STATUS, value: 'accepted' },
          ],
        }),
      );
      return 'started';
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) return 'running';
      throw err;
    }
  }

  /**
   * The run of this message: the workflow id's latest run, unless a later event reused a keyed id;
   * then the earlier run is found among the id's runs by the message id in its memo. Undefined when
   * Temporal has no such run (never started, or past retention).
   */
  async find(workflowId: string, messageId: string, timeoutMs = 3_000): Promise<EventRun | undefined> {
    return this.client.connection.withDeadline(Date.now() + timeoutMs, async () => {
      try {
        const latest = this.client.workflow.getHandle(workflowId);
        const description = await latest.describe();
        if (readMemo(description.memo)?.messageId === messageId) return toRun(latest, description);
        for await (const run of this.client.workflow.list({ query: `WorkflowId = ${quote(workflowId)}` })) {
          if (readMemo(run.memo)?.messageId !== messageId) continue;
          const handle = this.client.workflow.getHandle(workflowId, run.runId);
          return toRun(handle, await handle.describe());
        }
        return undefined;
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return undefined;
        throw err;
      }
    });
  }

  /**
   * The workflow's own account of the event: its status query while it runs, its result once it
   * completed, its failure (with the steps in its details) once it failed. Undefined while a running
   * workflow has no worker to answer the query.
   */
  async progress(run: EventRun, timeoutMs = 3_000): Promise<WebhookEventResult | undefined> {
    try {
      return await this.client.connection.withDeadline(Date.now() + timeoutMs, () =>
        run.running ? run.handle.query(statusQuery) : (run.handle.result() as Promise<WebhookEventResult>),
      );
    } catch (err) {
      if (err instanceof WorkflowFailedError) {
        const cause = err.cause instanceof ApplicationFailure ? err.cause : undefined;
        return {
          messageId: run.memo.messageId,
          status: 'failed',
          steps: cause ? readFailureDetails(cause)?.steps : undefined,
          error: { type: cause?.type ?? undefined, message: cause?.message ?? err.message },
        };
      }
      if (run.running) return undefined;
      throw err;
    }
  }

  /** The workflow id's latest run, whichever message it belongs to. */
  async latest(workflowId: string): Promise<EventRun | undefined> {
    try {
      const handle = this.client.workflow.getHandle(workflowId);
      return toRun(handle, await handle.describe());
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
  }

  /** Whether the message's run will still settle its reservation. */
  async state(workflowId: string, messageId: string): Promise<RunState> {
    // A queued event's reservation names its employee's queue: held while the queue runs (it starts
    // the event in its turn; the event settles then).
    if (workflowId.startsWith(QUEUE_PREFIX)) return this.queueState(workflowId);
    try {
      const description = await this.client.workflow.getHandle(workflowId).describe();
      // The id's latest run belongs to another message: this message's run never started (or closed long ago).
      if (readMemo(description.memo)?.messageId !== messageId) return 'absent';
      return description.status.name === 'RUNNING' ? 'running' : 'closed';
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return 'absent';
      throw err;
    }
  }

  private async queueState(workflowId: string): Promise<RunState> {
    try {
      const description = await this.client.workflow.getHandle(workflowId).describe();
      return description.status.name === 'RUNNING' ? 'running' : 'closed';
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return 'absent';
      throw err;
    }
  }

  /**
   * Every event run of the account started in [from, to), with the charge its settlement wrote into
   * the memo. Visibility may lag a run by a moment: a listed run that looks unsettled is described,
   * and the run's own memo is current.
   */
  async recorded(accountId: string, from: Date, to: Date, concurrency = 8): Promise<RecordedRun[]> {
    const query = [
      `WorkflowType = ${quote(EVENT_WORKFLOW)}`,
      `${ACCOUNT_ID.name} = ${quote(accountId)}`,
      `StartTime >= ${quote(from.toISOString())}`,
      `StartTime < ${quote(to.toISOString())}`,
    ].join(' AND ');
    const listed: WorkflowExecutionInfo[] = [];
    for await (const execution of this.client.workflow.list({ query })) listed.push(execution);
    const runs: RecordedRun[] = [];
    await forEachLimited(listed, concurrency, async (execution) => {
      let memo = readMemo(execution.memo);
      let running = execution.status.name === 'RUNNING';
      if (!memo?.settled) {
        const description = await this.client.workflow.getHandle(execution.workflowId, execution.runId).describe();
        memo = readMemo(description.memo);
        running = description.status.name === 'RUNNING';
      }
      if (!memo) return;
      runs.push({
        workflowId: execution.workflowId,
        runId: execution.runId,
        running,
        messageId: memo.messageId,
        settled: memo.settled ?? false,
        charge: memo.charge ?? undefined,
      });
    });
    return runs;
  }
}

function toRun(handle: WorkflowHandle, description: WorkflowExecutionDescription): EventRun | undefined {
  const memo = readMemo(description.memo);
  if (!memo) return undefined;
  return {
    handle,
    runId: description.runId,
    running: description.status.name === 'RUNNING',
    memo,
    searchStatus: description.typedSearchAttributes.get(EVENT_STATUS) as EventStatus | undefined,
    pendingAttempt: description.raw.pendingActivities?.[0]?.attempt ?? 0,
    closeTime: description.closeTime,
  };
}

/** Queue workflow ids (src/events/workflow-id.ts, employeeQueueWorkflowId). */
const QUEUE_PREFIX = 'employee-queue/';

function bulkWorkflowId(bulkId: string): string {
  return `bulk-replay/${bulkId}`;
}

/** The most attempts any activity of the run took (1 when every step succeeded or failed at once). */
async function attemptsOf(handle: WorkflowHandle): Promise<number> {
  const history = await handle.fetchHistory();
  let attempts = 1;
  for (const e of history.events ?? []) attempts = Math.max(attempts, e.activityTaskStartedEventAttributes?.attempt ?? 0);
  return attempts;
}

/** A string literal in a visibility query. */
function quote(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** Runs `work` over `items`, at most `limit` at once. */
export async function forEachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++]);
  });
  await Promise.all(lanes);
}
