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
import { utf8Length, type ChatMessage, type ToolCall } from '../src/domain/agent';
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
  const modelName = setup.model!;
  const limits = setup.limits;
  const used: ToolBudget = { calls: 0, webhookBytes: 0 };
  let toolResults: ChatMessage[] = [];
  for (let turn = 1; turn <= limits.maxSteps; turn++) {
    const started = Date.now();
    const result = await model.modelTurn
      .executeWithOptions({ ...MODEL_TURN, summary: `turn ${turn} · ${modelName}` }, [
        {
          employeeId: input.employeeId,
          messageId: input.messageId,
          turn,
          model: modelName,
          maxTokens: limits.maxTokens,
          maxCredits: limits.maxCredits,
          tools: setup.tools,
          toolResults,
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
    if (result.creditsAfter > limits.maxCredits) {
      throw ApplicationFailure.create({
        type: CREDIT_CAP,
        message: `The event has cost ${result.creditsAfter} credits, over its cap of ${limits.maxCredits}.`,
        nonRetryable: true,
      });
    }
    if (calls.length === 0) return result.message.content ?? '';
    const results = await Promise.all(calls.map((call, i) => callTool(input, call, admit(call, i, limits, used), progress)));
    toolResults = calls.map((call, i) => ({ role: 'tool', tool_call_id: call.id, content: results[i].content }));
    for (const r of results) {
      spent.runtimeMs += r.runtimeMs;
      spent.toolCalls = (spent.toolCalls ?? 0) + 1;
    }
  }
  throw ApplicationFailure.create({
    type: STEP_LIMIT,
    message: `The employee took ${limits.maxSteps} model turns without a final answer (the event's step limit).`,
    nonRetryable: true,
  });
}

/** What the event's tool calls have used so far, against its caps. */
interface ToolBudget {
  calls: number;
  webhookBytes: number;
}

/**
 * Whether a call may run, decided in the workflow (deterministically, in the order the model asked):
 * past the per-turn or per-event call cap, or a send_webhook body past the event's byte budget, the
 * call is refused back to the model with the reason, and the event goes on.
 */
function admit(call: ToolCall, index: number, limits: AgentSetup['limits'], used: ToolBudget): string | undefined {
  if (index >= limits.maxToolCallsPerTurn) return `Refused: one turn may make at most ${limits.maxToolCallsPerTurn} tool calls; ask again next turn.`;
  if (used.calls >= limits.maxToolCalls) return `Refused: this event may make at most ${limits.maxToolCalls} tool calls, and has made them.`;
  if (call.function.name === 'send_webhook') {
    const bytes = bodyBytes(call);
    if (used.webhookBytes + bytes > limits.maxWebhookBytes) {
      return `Refused: this event may send at most ${limits.maxWebhookBytes} bytes by send_webhook; ${used.webhookBytes} are sent and this body has ${bytes}.`;
    }
    used.webhookBytes += bytes;
  }
  used.calls += 1;
  return undefined;
}

/** The size of the body `send_webhook` would send (0 when its arguments do not parse: the activity says why). */
function bodyBytes(call: ToolCall): number {
  try {
    const body = (JSON.parse(call.function.arguments) as { body?: unknown }).body;
    return body === undefined ? 0 : utf8Length(JSON.stringify(body));
  } catch {
    return 0;
  }
}

/**
 * One tool call as its own activity, each tool with its retry policy. A call that still fails after
 * its retries goes back to the model as a failed tool result, like any tool error; so does a call of
 * a tool that does not exist, or one refused by a cap (no activity for those).
 */
async function callTool(input: WebhookEventInput, call: ToolCall, refused: string | undefined, progress: LoopProgress): Promise<ToolCallResult> {
  const args: ToolCallInput = { employeeId: input.employeeId, messageId: input.messageId, call, deliveryId: uuid4() };
  const started = Date.now();
  let result: ToolCallResult;
  try {
    result = refused ? { ok: false, content: refused, runtimeMs: 0 } : await toolActivity(call, args);
  } catch (err) {
    if (isCancellation(err) || !(err instanceof ActivityFailure)) throw err;
    result = { ok: false, content: `The tool failed after its retries: ${err.cause?.message ?? err.message}`, runtimeMs: Date.now() - started };
  }
  const { delivery } = result;
  progress.steps.push({
    kind: 'tool',
    name: call.function.name,
    status: result.ok ? 'completed' : 'failed',
    duration_ms: result.runtimeMs,
    ...(delivery ? { endpoint: delivery.endpoint, bytes: delivery.bytes, sha256: delivery.sha256 } : {}),
  });
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
