import {
  type ActivityOptions,
  type LocalActivityOptions,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  proxyActivities,
  proxyLocalActivities,
  uuid4,
} from '@temporalio/workflow';
import type { ChatMessage, ToolCall } from '../src/domain/agent';
import {
  CREDIT_CAP,
  EMPLOYEE_NOT_FOUND,
  EVENT_DEADLINE,
  MODEL_REJECTED,
  STEP_LIMIT,
  ZERO_USAGE,
  type EmployeeOutcome,
  type EventStep,
  type Usage,
} from '../src/domain/events';
import type { AgentSetup, EventActivities, ToolCallInput, ToolCallResult, WebhookEventInput } from './contract';
import { toEventFailure } from './failures';

/** Reading the employee and recording its outcome are short database steps: local activities. */
export const DATABASE_STEP: LocalActivityOptions = {
  startToCloseTimeout: '10s',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '10s', nonRetryableErrorTypes: [EMPLOYEE_NOT_FOUND] },
};

/**
 * A model turn may wait on the model for minutes; it heartbeats every second, so a dead worker is
 * noticed within the heartbeat timeout. Its retries are counted: together with the event's deadline
 * they make sure a poisoned event ends.
 */
const MODEL_TURN: ActivityOptions = {
  startToCloseTimeout: '5m',
  heartbeatTimeout: '10s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 8, nonRetryableErrorTypes: [MODEL_REJECTED] },
};

/** `remember` and `reply` write once per call id: safe to retry until the database answers. */
const MEMORY_TOOL: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 20 },
};

/**
 * A webhook delivery retries 5xx, 429 and timeouts with backoff for about three minutes (a receiver
 * down for a minute gets its delivery); the same webhook-id on every attempt lets it deduplicate.
 * It heartbeats while it waits on the receiver: a worker killed mid-delivery is noticed in seconds.
 */
const WEBHOOK: ActivityOptions = {
  startToCloseTimeout: '1m',
  heartbeatTimeout: '10s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 10 },
};

// One proxy per policy: executeWithOptions deep-merges its options into the proxy's, so a tool call
// scheduled through the model turn's proxy would inherit its heartbeat timeout.
const database = proxyLocalActivities<EventActivities>(DATABASE_STEP);
const model = proxyActivities<EventActivities>(MODEL_TURN);
const memoryTools = proxyActivities<EventActivities>(MEMORY_TOOL);
const webhooks = proxyActivities<EventActivities>(WEBHOOK);

/** What the loop reports as it goes: the status query and the Temporal UI's current details read it. */
export interface LoopProgress {
  steps: EventStep[];
  note(line: string): void;
}

/** Where the loop ended: the employee's outcome, or a failure with what the event consumed until then. */
export type LoopEnd =
  | { ok: true; outcome: EmployeeOutcome }
  /** `cancellation`: the event itself was cancelled; the workflow ends cancelled once it has settled. */
  | { ok: false; failure: ApplicationFailure; spent: Usage; cancellation?: unknown };

/**
 * The employee acts on the event: a model turn proposes tool calls, each runs as its own activity
 * (in parallel when the model asks for several), their results go back to the model, until it
 * answers or a limit ends the event — STEP_LIMIT (model turns), CREDIT_CAP (what the event has cost
 * so far, checked after every turn), EVENT_DEADLINE (from acceptance; the running step is
 * cancelled). Every step is in the history, so a worker that dies resumes where it stopped: a
 * finished turn is not asked again, a finished tool call not run again.
 */
export async function runAgent(input: WebhookEventInput, message: string, progress: LoopProgress): Promise<LoopEnd> {
  const spent: Usage = { ...ZERO_USAGE };
  try {
    return { ok: true, outcome: await act(input, message, progress, spent) };
  } catch (err) {
    return { ok: false, spent, failure: toEventFailure(err), cancellation: isCancellation(err) ? err : undefined };
  }
}

async function act(input: WebhookEventInput, message: string, progress: LoopProgress, spent: Usage): Promise<EmployeeOutcome> {
  const who = { employeeId: input.employeeId, messageId: input.messageId };
  const setup = await database.prepareAgent.executeWithOptions({ ...DATABASE_STEP, summary: 'read employee, tools and memory' }, [{ ...who, message }]);
  if (!setup.model) {
    const outcome = await database.recordOutcome.executeWithOptions({ ...DATABASE_STEP, summary: 'deliver to inbox' }, [
      { ...who, message, outcome: { runtime: 'inbox', attempts: 1, usage: { ...ZERO_USAGE } } },
    ]);
    progress.note("delivered to the employee's inbox");
    return outcome;
  }
  spent.model = setup.model;
  const remainingMs = input.receivedAt + setup.limits.deadlineMs - Date.now();
  let reply: string;
  try {
    reply = await CancellationScope.withTimeout(Math.max(remainingMs, 1), () => loop(input, setup, spent, progress));
  } catch (err) {
    if (isCancellation(err) && !CancellationScope.current().consideredCancelled) throw deadlinePassed(setup.limits.deadlineMs);
    throw err;
  }
  return database.recordOutcome.executeWithOptions({ ...DATABASE_STEP, summary: 'record the answer' }, [
    { ...who, message, outcome: { runtime: 'openai', reply, attempts: 1, usage: spent } },
  ]);
}

function deadlinePassed(ms: number): ApplicationFailure {
  // Whole minutes as minutes; anything else in seconds (a 3 s deadline is not "0 min").
  const limit = ms % 60_000 === 0 ? `${ms / 60_000} min` : `${Math.round(ms / 1000)} s`;
  return ApplicationFailure.create({
    type: EVENT_DEADLINE,
    message: `The event passed its deadline (${limit}) before the employee finished.`,
    nonRetryable: true,
  });
}

async function loop(input: WebhookEventInput, setup: AgentSetup, spent: Usage, progress: LoopProgress): Promise<string> {
  const messages: ChatMessage[] = [...setup.messages];
  const modelName = setup.model!;
  for (let turn = 1; turn <= setup.limits.maxSteps; turn++) {
    const started = Date.now();
    const result = await model.modelTurn
      .executeWithOptions({ ...MODEL_TURN, summary: `turn ${turn} · ${modelName}` }, [
        {
          employeeId: input.employeeId,
          messageId: input.messageId,
          turn,
          model: modelName,
          maxTokens: setup.limits.maxTokens,
          messages,
          tools: setup.tools,
          spent: { ...spent },
        },
      ])
      .catch((err: unknown) => {
        progress.steps.push({ kind: 'model', name: `turn ${turn}`, status: 'failed', duration_ms: Date.now() - started });
        throw err;
      });
    addUsage(spent, result.usage);
    spent.modelTurns = (spent.modelTurns ?? 0) + 1;
    progress.steps.push({ kind: 'model', name: `turn ${turn}`, status: 'completed', duration_ms: result.usage.runtimeMs });
    const calls = result.message.tool_calls ?? [];
    progress.note(
      `turn ${turn}: ${result.usage.promptTokens} + ${result.usage.completionTokens} tokens${calls.length ? `, ${calls.map((c) => c.function.name).join(', ')}` : ', answered'}`,
    );
    if (result.creditsAfter > setup.limits.maxCredits) {
      throw ApplicationFailure.create({
        type: CREDIT_CAP,
        message: `The event has cost ${result.creditsAfter} credits, over its cap of ${setup.limits.maxCredits}.`,
        nonRetryable: true,
      });
    }
    messages.push(result.message);
    if (calls.length === 0) return result.message.content ?? '';
    const results = await Promise.all(calls.map((call) => callTool(input, call, progress)));
    for (const [i, call] of calls.entries()) {
      messages.push({ role: 'tool', tool_call_id: call.id, content: results[i].content });
      spent.runtimeMs += results[i].runtimeMs;
      spent.toolCalls = (spent.toolCalls ?? 0) + 1;
    }
  }
  throw ApplicationFailure.create({
    type: STEP_LIMIT,
    message: `The employee took ${setup.limits.maxSteps} model turns without a final answer (the event's step limit).`,
    nonRetryable: true,
  });
}

/**
 * One tool call as its own activity, each tool with its retry policy. A call that still fails after
 * its retries goes back to the model as a failed tool result, like any tool error; so does a call of
 * a tool that does not exist (no activity for it).
 */
async function callTool(input: WebhookEventInput, call: ToolCall, progress: LoopProgress): Promise<ToolCallResult> {
  const args: ToolCallInput = { employeeId: input.employeeId, messageId: input.messageId, call, deliveryId: uuid4() };
  const started = Date.now();
  let result: ToolCallResult;
  try {
    result = await toolActivity(call, args);
  } catch (err) {
    if (isCancellation(err) || !(err instanceof ActivityFailure)) throw err;
    result = { ok: false, content: `The tool failed after its retries: ${err.cause?.message ?? err.message}`, runtimeMs: Date.now() - started };
  }
  progress.steps.push({ kind: 'tool', name: call.function.name, status: result.ok ? 'completed' : 'failed', duration_ms: result.runtimeMs });
  return result;
}

function toolActivity(call: ToolCall, args: ToolCallInput): Promise<ToolCallResult> {
  switch (call.function.name) {
    case 'send_webhook':
      return webhooks.sendWebhook.executeWithOptions({ ...WEBHOOK, summary: `send_webhook → ${endpointName(call)}` }, [args]);
    case 'remember':
      return memoryTools.rememberNote.executeWithOptions({ ...MEMORY_TOOL, summary: 'remember' }, [args]);
    case 'reply':
      return memoryTools.replyToOwner.executeWithOptions({ ...MEMORY_TOOL, summary: 'reply' }, [args]);
    default:
      return Promise.resolve({ ok: false, content: `Unknown tool ${call.function.name}. Use one of the tools you were given.`, runtimeMs: 0 });
  }
}

function endpointName(call: ToolCall): string {
  try {
    const endpoint = (JSON.parse(call.function.arguments) as { endpoint?: unknown }).endpoint;
    return typeof endpoint === 'string' ? endpoint : '?';
  } catch {
    return '?';
  }
}

function addUsage(total: Usage, turn: Usage): void {
  total.promptTokens += turn.promptTokens;
  total.completionTokens += turn.completionTokens;
  total.runtimeMs += turn.runtimeMs;
  if (turn.model) total.model = turn.model;
}
