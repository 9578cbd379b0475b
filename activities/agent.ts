import { ApplicationFailure } from '@temporalio/common';
import type { AgentLimits, ChatMessage } from '../src/domain/agent';
import { EMPLOYEE_NOT_FOUND, MODEL_NOT_CONFIGURED, type EmployeeOutcome, type Usage } from '../src/domain/events';
import { priceEvent, priceFor, type PriceList } from '../src/billing/pricing';
import type { EmployeeMemory } from '../src/stores/employee-memory';
import type { EmployeeStore } from '../src/stores/employees';
import type { EndpointStore } from '../src/stores/endpoints';
import type { AgentSetup, ModelTurnInput, ModelTurnResult, PrepareAgentInput, RecordOutcomeInput, ToolCallInput, ToolCallResult } from '../workflows/contract';
import { withHeartbeat } from './heartbeat';
import type { ModelServer } from './model-server';
import { parseArguments, toolResult, toolSpecs } from './tools';

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

export function agentActivities(deps: AgentDeps) {
  /**
   * Everything the loop needs for one event, read once: the employee's limits, the tools it may use
   * (only those the operator turned on), and the prompt — instructions, kept notes, recent memory,
   * then the event. Without a model server, `model` is undefined and the event goes to the inbox.
   */
  async function prepareAgent(input: PrepareAgentInput): Promise<AgentSetup> {
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
    if (!model) throw ApplicationFailure.nonRetryable('No model server is configured', MODEL_NOT_CONFIGURED);
    const started = Date.now();
    const result = await withHeartbeat(
      (signal) => model.turn({ model: input.model, messages: input.messages, tools: input.tools, maxTokens: input.maxTokens }, signal),
      { turn: input.turn },
    );
    const usage: Usage = { promptTokens: result.promptTokens, completionTokens: result.completionTokens, runtimeMs: Date.now() - started, model: result.model };
    const total = {
      promptTokens: input.spent.promptTokens + usage.promptTokens,
      completionTokens: input.spent.completionTokens + usage.completionTokens,
      runtimeMs: input.spent.runtimeMs + usage.runtimeMs,
    };
    const cost = priceEvent(total, priceFor(deps.prices, result.model));
    return { message: result.message, usage, creditsAfter: cost.tokenCredits + cost.runtimeCredits };
  }

  /**
   * `remember` and `reply` write once per call (keyed by the workflow's id for the call), so a retry
   * after a crash adds nothing. Bad arguments or a tool the operator has not turned on come back as
   * an error the model can correct; the event goes on.
   */
  async function rememberNote(input: ToolCallInput): Promise<ToolCallResult> {
    const started = Date.now();
    const refused = await notEnabled(input.employeeId, 'remember', started);
    if (refused) return refused;
    const parsed = parseArguments('remember', input.call.function.arguments);
    if (!parsed.ok) return toolResult(false, parsed.error, started);
    await deps.memory.remember(input.employeeId, input.messageId, input.deliveryId, parsed.args.note);
    return toolResult(true, 'Noted.', started);
  }

  async function replyToOwner(input: ToolCallInput): Promise<ToolCallResult> {
    const started = Date.now();
    const refused = await notEnabled(input.employeeId, 'reply', started);
    if (refused) return refused;
    const parsed = parseArguments('reply', input.call.function.arguments);
    if (!parsed.ok) return toolResult(false, parsed.error, started);
    await deps.memory.reply(input.employeeId, input.messageId, input.deliveryId, parsed.args.text);
    return toolResult(true, 'Left in the inbox.', started);
  }

  async function notEnabled(employeeId: string, tool: 'remember' | 'reply', started: number): Promise<ToolCallResult | undefined> {
    const employee = await deps.employees.getEmployee(employeeId);
    return employee?.tools.includes(tool) ? undefined : toolResult(false, `The tool ${tool} is not enabled for you.`, started);
  }

  /** The event's end for the employee: the final answer (or, without a model, the event) in its inbox and memory, once. */
  async function recordOutcome(input: RecordOutcomeInput): Promise<EmployeeOutcome> {
    return deps.memory.record(input.employeeId, input.messageId, input.message, input.outcome);
  }

  return { prepareAgent, modelTurn, rememberNote, replyToOwner, recordOutcome };
}
