import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { priceEvent, priceFor, type PriceList } from '../src/billing/pricing';
import type { EmployeeMemory } from '../src/stores/employee-memory';
import type { EmployeeStore } from '../src/stores/employees';
import type { EndpointStore } from '../src/stores/endpoints';
import {
  EMPLOYEE_NOT_FOUND,
  type AgentLimits,
  type AgentSetup,
  type ChatMessage,
  type EmployeeOutcome,
  type ModelTurnInput,
  type ModelTurnResult,
  type ToolCallInput,
  type ToolCallResult,
  type ToolName,
  type ToolSpec,
  type Usage,
} from '../workflows/contract';
import type { ModelServer } from './model-server';

export interface AgentDeps {
  employees: EmployeeStore;
  memory: EmployeeMemory;
  endpoints: EndpointStore;
  /** Absent when no model endpoint is configured: events are then delivered to the inbox only. */
  model?: ModelServer;
  defaultModel: string;
  prices: PriceList;
  /** The service's limits; an employee's own override them. */
  defaultLimits: AgentLimits;
}

/** Heartbeats this often while waiting on the model, well inside the turn's heartbeat timeout. */
const HEARTBEAT_EVERY_MS = 1_000;

/** The tools' arguments, as the product's interface names them. */
export const ToolArguments = {
  send_webhook: z.object({
    endpoint: z.string({ error: 'endpoint must be the name of one of your endpoints' }).min(1),
    body: z.record(z.string(), z.unknown(), { error: 'body must be a JSON object' }),
  }),
  remember: z.object({ note: z.string({ error: 'note must be a string' }).trim().min(1, 'note must not be empty').max(2_000) }),
  reply: z.object({ text: z.string({ error: 'text must be a string' }).trim().min(1, 'text must not be empty').max(10_000) }),
} satisfies Record<ToolName, z.ZodType>;

function toolSpecs(enabled: ToolName[], endpointNames: string[]): ToolSpec[] {
  const specs: ToolSpec[] = [];
  if (enabled.includes('send_webhook') && endpointNames.length > 0) {
    specs.push({
      type: 'function',
      function: {
        name: 'send_webhook',
        description: 'POST a JSON body to one of your registered outbound endpoints. Returns the HTTP status and the start of the answer.',
        parameters: {
          type: 'object',
          properties: {
            endpoint: { type: 'string', enum: endpointNames, description: 'Which endpoint, by name.' },
            body: { type: 'object', description: 'The JSON object to send.' },
          },
          required: ['endpoint', 'body'],
        },
      },
    });
  }
  if (enabled.includes('remember')) {
    specs.push({
      type: 'function',
      function: {
        name: 'remember',
        description: 'Keep a note in your long-term memory; it is shown to you with every later event.',
        parameters: { type: 'object', properties: { note: { type: 'string' } }, required: ['note'] },
      },
    });
  }
  if (enabled.includes('reply')) {
    specs.push({
      type: 'function',
      function: {
        name: 'reply',
        description: 'Leave a message in the inbox of the account owner.',
        parameters: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
      },
    });
  }
  return specs;
}

/** A tool call's arguments checked against its schema; the error is worded for the model to correct. */
export function parseArguments<T extends ToolName>(
  name: T,
  raw: string,
): { ok: true; args: z.infer<(typeof ToolArguments)[T]> } | { ok: false; error: string } {
  let json: unknown;
  try {
    json = JSON.parse(raw || '{}');
  } catch {
    return { ok: false, error: `The arguments of ${name} are not valid JSON. Send a JSON object.` };
  }
  const parsed = ToolArguments[name].safeParse(json);
  if (parsed.success) return { ok: true, args: parsed.data as z.infer<(typeof ToolArguments)[T]> };
  const issue = parsed.error.issues[0];
  return { ok: false, error: `Invalid arguments for ${name}: ${issue.path.join('.') || 'arguments'}: ${issue.message}.` };
}

export function toolResult(ok: boolean, content: unknown, started: number): ToolCallResult {
  return { ok, content: typeof content === 'string' ? content : JSON.stringify(content), runtimeMs: Date.now() - started };
}

export function agentActivities(deps: AgentDeps) {
  /**
   * Everything the loop needs for one event, read once: the employee's limits, the tools it may use
   * (only those the operator turned on), and the prompt — instructions, kept notes, recent memory,
   * then the event. Without a model server, `model` is undefined and the event goes to the inbox.
   */
  async function prepareAgent(input: { employeeId: string; messageId: string; message: string }): Promise<AgentSetup> {
    const employee = await deps.employees.getEmployee(input.employeeId);
    if (!employee) throw ApplicationFailure.nonRetryable(`Employee ${input.employeeId} no longer exists`, EMPLOYEE_NOT_FOUND);
    const limits: AgentLimits = { ...deps.defaultLimits, ...employee.limits };
    if (!deps.model) return { limits, tools: [], messages: [] };
    const [endpoints, notes, turns] = await Promise.all([
      employee.tools.includes('send_webhook') ? deps.endpoints.list(employee.id) : [],
      deps.memory.notes(employee.id),
      deps.memory.recentTurns(employee.id),
    ]);
    const system = notes.length ? `${employee.instructions}\n\nNotes you kept:\n${notes.map((n) => `- ${n}`).join('\n')}` : employee.instructions;
    const messages: ChatMessage[] = [{ role: 'system', content: system }, ...turns, { role: 'user', content: input.message }];
    return {
      model: employee.model ?? deps.defaultModel,
      limits,
      tools: toolSpecs(
        employee.tools,
        endpoints.map((e) => e.name),
      ),
      messages,
    };
  }

  /**
   * One model turn: the conversation so far in, the assistant's message out (an answer, tool calls,
   * or both), with its usage and the event's credits so far priced as the charge will price them.
   * Failures are classified like every model call (model-server.ts); a failed attempt costs nothing.
   */
  async function modelTurn(input: ModelTurnInput): Promise<ModelTurnResult> {
    const model = deps.model;
    if (!model) throw ApplicationFailure.nonRetryable('No model server is configured', 'MODEL_NOT_CONFIGURED');
    const context = Context.current();
    const started = Date.now();
    const heartbeat = setInterval(() => context.heartbeat({ turn: input.turn }), HEARTBEAT_EVERY_MS);
    try {
      const result = await model.turn(
        { model: input.model, messages: input.messages, tools: input.tools, maxTokens: input.maxTokens },
        context.cancellationSignal,
      );
      const usage: Usage = {
        promptTokens: result.promptTokens,
        completionTokens: result.completionTokens,
        runtimeMs: Date.now() - started,
        model: result.model,
      };
      const total = {
        promptTokens: input.spent.promptTokens + usage.promptTokens,
        completionTokens: input.spent.completionTokens + usage.completionTokens,
        runtimeMs: input.spent.runtimeMs + usage.runtimeMs,
      };
      const cost = priceEvent(total, priceFor(deps.prices, result.model));
      return { message: result.message, usage, creditsAfter: cost.tokenCredits + cost.runtimeCredits };
    } finally {
      clearInterval(heartbeat);
    }
  }

  /**
   * `remember` and `reply`: each writes once per call (keyed by the workflow's id for the call), so
   * a retry after a crash adds nothing. Bad arguments, an unknown tool or one the operator has not
   * turned on come back as an error the model can correct; the event goes on.
   */
  async function runTool(input: ToolCallInput): Promise<ToolCallResult> {
    const started = Date.now();
    const name = input.call.function.name;
    if (name !== 'remember' && name !== 'reply') return toolResult(false, `Unknown tool ${name}. Use one of the tools you were given.`, started);
    const employee = await deps.employees.getEmployee(input.employeeId);
    if (!employee?.tools.includes(name)) return toolResult(false, `The tool ${name} is not enabled for you.`, started);
    const parsed = parseArguments(name, input.call.function.arguments);
    if (!parsed.ok) return toolResult(false, parsed.error, started);
    if (name === 'remember') {
      await deps.memory.remember(input.employeeId, input.messageId, input.deliveryId, (parsed.args as { note: string }).note);
      return toolResult(true, 'Noted.', started);
    }
    await deps.memory.reply(input.employeeId, input.messageId, input.deliveryId, (parsed.args as { text: string }).text);
    return toolResult(true, 'Left in the inbox.', started);
  }

  /** The event's end for the employee: the final answer (or, without a model, the event) in its inbox and memory, once. */
  async function recordOutcome(input: { employeeId: string; messageId: string; message: string; outcome: EmployeeOutcome }): Promise<EmployeeOutcome> {
    return deps.memory.record(input.employeeId, input.messageId, input.message, input.outcome);
  }

  return { prepareAgent, modelTurn, runTool, recordOutcome };
}
