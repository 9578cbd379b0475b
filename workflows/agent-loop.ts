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
import type { Activities } from '../activities';
import {
  CREDIT_CAP,
  EMPLOYEE_NOT_FOUND,
  EVENT_DEADLINE,
  MODEL_REJECTED,
  STEP_LIMIT,
  type AgentSetup,
  type ChatMessage,
  type EmployeeOutcome,
  type EventStep,
  type ToolCall,
  type ToolCallResult,
  type Usage,
  type WebhookEventInput,
} from './contract';

/** Reading the employee and recording its outcome are short database steps: local activities. */
const LOCAL: LocalActivityOptions = {
  startToCloseTimeout: '10s',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '10s', nonRetryableErrorTypes: [EMPLOYEE_NOT_FOUND] },
};

/**
 * A model turn may wait on the model for minutes; it heartbeats every second, so a dead worker is
 * noticed within the heartbeat timeout. Unlike the one-call step of old histories, its retries are
 * counted: together with the event's deadline they make sure a poisoned event ends.
 */
const MODEL_TURN: ActivityOptions = {
  startToCloseTimeout: '5m',
  heartbeatTimeout: '10s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 8, nonRetryableErrorTypes: [MODEL_REJECTED] },
};

/** `remember` and `reply` write once per call id: safe to retry until the database answers. */
const TOOL: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 20 },
};

/**
 * A webhook delivery retries 5xx, 429 and timeouts with backoff for about three minutes (a receiver
 * down for a minute gets its delivery); the same webhook-id on every attempt lets it deduplicate.
 */
const WEBHOOK: ActivityOptions = {
  startToCloseTimeout: '1m',
  // The delivery heartbeats while it waits on the receiver: a worker killed mid-delivery is noticed
  // in seconds, and the retry carries the same webhook-id.
  heartbeatTimeout: '10s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 10 },
};

const local = proxyLocalActivities<Activities>(LOCAL);
// One proxy per policy: executeWithOptions deep-merges its options into the proxy's, so tool calls
// scheduled through the model turn's proxy would inherit its 10 s heartbeat timeout — and a
// delivery, which does not heartbeat, would be failed and sent again after 10 s however long
// WEBHOOK_TIMEOUT_MS allows.
const activities = proxyActivities<Activities>(MODEL_TURN);
const tools = proxyActivities<Activities>(TOOL);
const webhooks = proxyActivities<Activities>(WEBHOOK);

/** What the loop reports as it goes: the status query and the Temporal UI's current details read it. */
export interface LoopProgress {
  steps: EventStep[];
  note(line: string): void;
}

/** Where the loop ended: the employee's outcome, or a failure with what the event consumed until then. */
export type LoopEnd = { ok: true; outcome: EmployeeOutcome } | { ok: false; failure: ApplicationFailure; spent: Usage };

const ZERO: Usage = { promptTokens: 0, completionTokens: 0, runtimeMs: 0, modelTurns: 0, toolCalls: 0 };

/**
 * The employee acts on the event: a model turn proposes tool calls, each runs as its own activity
 * (in parallel when the model asks for several), their results go back to the model, until it
 * answers or a limit ends the event — STEP_LIMIT (model turns), CREDIT_CAP (what the event has cost
 * so far, checked after every turn), EVENT_DEADLINE (from acceptance; the running step is
 * cancelled). Every step is in the history, so a worker that dies resumes where it stopped: a
 * finished turn is not asked again, a finished tool call not run again.
 */
export async function runAgent(input: WebhookEventInput, message: string, progress: LoopProgress): Promise<LoopEnd> {
  const setup = await local.prepareAgent.executeWithOptions({ ...LOCAL, summary: 'read employee, tools and memory' }, [
    { employeeId: input.employeeId, messageId: input.messageId, message },
  ]);
  if (!setup.model) {
    const outcome = await local.recordOutcome.executeWithOptions({ ...LOCAL, summary: 'deliver to inbox' }, [
      { employeeId: input.employeeId, messageId: input.messageId, message, outcome: { runtime: 'inbox', attempts: 1, usage: { ...ZERO } } },
    ]);
    progress.note("delivered to the employee's inbox");
    return { ok: true, outcome };
  }

  const spent: Usage = { ...ZERO, model: setup.model };
  const remainingMs = input.receivedAt + setup.limits.deadlineMs - Date.now();
  try {
    const reply = await CancellationScope.withTimeout(Math.max(remainingMs, 1), () => loop(input, setup, spent, progress));
    const outcome = await local.recordOutcome.executeWithOptions({ ...LOCAL, summary: 'record the answer' }, [
      { employeeId: input.employeeId, messageId: input.messageId, message, outcome: { runtime: 'openai', reply, attempts: 1, usage: spent } },
    ]);
    return { ok: true, outcome };
  } catch (err) {
    if (isCancellation(err) && !CancellationScope.current().consideredCancelled) {
      // Whole minutes as minutes; anything else in seconds (a 3 s deadline is not "0 min").
      const ms = setup.limits.deadlineMs;
      const limit = ms % 60_000 === 0 ? `${ms / 60_000} min` : `${Math.round(ms / 1000)} s`;
      return {
        ok: false,
        spent,
        failure: ApplicationFailure.create({
          type: EVENT_DEADLINE,
          message: `The event passed its deadline (${limit}) before the employee finished.`,
          nonRetryable: true,
        }),
      };
    }
    if (err instanceof ApplicationFailure && !isCancellation(err)) return { ok: false, spent, failure: err };
    const cause = err instanceof ActivityFailure && err.cause instanceof ApplicationFailure ? err.cause : undefined;
    if (cause)
      return {
        ok: false,
        spent,
        failure: ApplicationFailure.create({ type: cause.type ?? undefined, message: cause.message, nonRetryable: true, cause: err as Error }),
      };
    throw err;
  }
}

async function loop(input: WebhookEventInput, setup: AgentSetup, spent: Usage, progress: LoopProgress): Promise<string> {
  const messages: ChatMessage[] = [...setup.messages];
  const model = setup.model!;
  for (let turn = 1; turn <= setup.limits.maxSteps; turn++) {
    const started = Date.now();
    const result = await activities.modelTurn
      .executeWithOptions({ ...MODEL_TURN, summary: `turn ${turn} · ${model}` }, [
        {
          employeeId: input.employeeId,
          messageId: input.messageId,
          turn,
          model,
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
    add(spent, result.usage);
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
    const results = await Promise.all(calls.map((call) => runTool(input, call, progress)));
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
 * One tool call as its own activity. `send_webhook` has its own retry policy; a delivery that still
 * fails after it goes back to the model as a failed tool result, like any tool error.
 */
async function runTool(input: WebhookEventInput, call: ToolCall, progress: LoopProgress): Promise<ToolCallResult> {
  const args = { employeeId: input.employeeId, messageId: input.messageId, call, deliveryId: uuid4() };
  const started = Date.now();
  let result: ToolCallResult;
  try {
    if (call.function.name === 'send_webhook') {
      result = await webhooks.sendWebhook.executeWithOptions({ ...WEBHOOK, summary: `send_webhook → ${endpointName(call)}` }, [args]);
    } else {
      result = await tools.runTool.executeWithOptions({ ...TOOL, summary: call.function.name }, [args]);
    }
  } catch (err) {
    if (isCancellation(err) || !(err instanceof ActivityFailure)) throw err;
    result = { ok: false, content: `The tool failed after its retries: ${err.cause?.message ?? err.message}`, runtimeMs: Date.now() - started };
  }
  progress.steps.push({ kind: 'tool', name: call.function.name, status: result.ok ? 'completed' : 'failed', duration_ms: result.runtimeMs });
  return result;
}

function endpointName(call: ToolCall): string {
  try {
    const endpoint = (JSON.parse(call.function.arguments) as { endpoint?: unknown }).endpoint;
    return typeof endpoint === 'string' ? endpoint : '?';
  } catch {
    return '?';
  }
}

function add(total: Usage, turn: Usage): void {
  total.promptTokens += turn.promptTokens;
  total.completionTokens += turn.completionTokens;
  total.runtimeMs += turn.runtimeMs;
  if (turn.model) total.model = turn.model;
}
