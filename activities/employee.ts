import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { EmployeeStore } from '../src/stores/employees';
import type { EmployeeMemory } from '../src/stores/employee-memory';
import { EMPLOYEE_NOT_FOUND, type EmployeeOutcome } from '../workflows/contract';
import type { ChatMessage, ModelServer } from './model-server';

export interface EmployeeDeps {
  employees: EmployeeStore;
  memory: EmployeeMemory;
  /** Absent when no model endpoint is configured: events are then delivered to the inbox only. */
  model?: ModelServer;
  defaultModel: string;
}

export interface DriveEmployeeInput {
  employeeId: string;
  messageId: string;
  message: string;
}

/** Heartbeats this often while waiting on the model, well inside the workflow's heartbeat timeout. */
const HEARTBEAT_EVERY_MS = 1_000;

export function employeeActivities(deps: EmployeeDeps) {
  /**
   * The event step of histories recorded before the agent loop (`agent-loop` patch): one reply, no
   * tools. Kept so that those workflows still run to their end. A retry after a success that was not yet reported
   * (a worker died) finds the recorded outcome and neither calls the model nor writes memory again.
   */
  async function driveEmployee(input: DriveEmployeeInput): Promise<EmployeeOutcome> {
    const outcome = await deliver(input);
    return { ...outcome, attempts: Context.current().info.attempt };
  }

  async function deliver(input: DriveEmployeeInput): Promise<EmployeeOutcome> {
    const done = await deps.memory.outcome(input.employeeId, input.messageId);
    if (done) return done;
    const employee = await deps.employees.getEmployee(input.employeeId);
    if (!employee) throw ApplicationFailure.nonRetryable(`Employee ${input.employeeId} no longer exists`, EMPLOYEE_NOT_FOUND);

    const started = Date.now();
    if (!deps.model) {
      const outcome: EmployeeOutcome = { runtime: 'inbox', usage: { promptTokens: 0, completionTokens: 0, runtimeMs: Date.now() - started } };
      return deps.memory.record(employee.id, input.messageId, input.message, outcome);
    }

    const context = Context.current();
    const model = employee.model ?? deps.defaultModel;
    const messages: ChatMessage[] = [
      { role: 'system', content: employee.instructions },
      ...(await deps.memory.recentTurns(employee.id)),
      { role: 'user', content: input.message },
    ];
    const heartbeat = setInterval(() => context.heartbeat({ waitingOn: 'model' }), HEARTBEAT_EVERY_MS);
    try {
      const result = await deps.model.complete(model, messages, context.cancellationSignal);
      const outcome: EmployeeOutcome = {
        runtime: 'openai',
        reply: result.reply,
        usage: { promptTokens: result.promptTokens, completionTokens: result.completionTokens, runtimeMs: Date.now() - started, model: result.model },
      };
      return await deps.memory.record(employee.id, input.messageId, input.message, outcome);
    } finally {
      clearInterval(heartbeat);
    }
  }

  return { driveEmployee };
}
