import { randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type pg from 'pg';
import { estimateTokens, systemMessage } from '../domain/prompt';
import { TOOL_NAMES, type AgentLimits, type ToolName } from '../domain/agent';
import { isUuid, NotFoundError } from './accounts';
import { statement } from './postgres/statement';

/** An employee's own limits; absent ones take the service's defaults (AGENT_* in the config). */
export type EmployeeLimits = Partial<AgentLimits>;

/** How an employee takes its events (sistava employee update --mode). */
export type FlowMode = 'parallel' | 'ordered' | 'batch';
export const FLOW_MODES: readonly FlowMode[] = ['parallel', 'ordered', 'batch'];

/** The mode and its settings; absent settings take the defaults (one at a time; 30 s debounce, 5 min wait, 50 a batch). */
export interface FlowSettings {
  mode: FlowMode;
  concurrency?: number;
  debounceMs?: number;
  maxWaitMs?: number;
  maxBatch?: number;
}

export interface Employee {
  id: string;
  accountId: string;
  name: string;
  instructions: string;
  model?: string;
  /** The tools the operator turned on: the only ones the model is told of. */
  tools: ToolName[];
  limits: EmployeeLimits;
  /** False: the `remember` tool is not offered and no notes are shown (`employee update --notes off`). */
  keepNotes: boolean;
  flow: FlowSettings;
  createdAt: string;
}

interface EmployeeRow {
  id: string;
  account_id: string;
  name: string;
  instructions: string;
  model: string | null;
  tools: string[];
  max_steps: number | null;
  max_tokens: number | null;
  deadline_ms: number | null;
  max_credits: number | null;
  max_prompt_tokens: number | null;
  max_tool_calls_per_turn: number | null;
  max_tool_calls: number | null;
  max_webhook_bytes: number | null;
  keep_notes: boolean;
  flow_mode: FlowMode;
  flow_concurrency: number | null;
  flow_debounce_ms: number | null;
  flow_max_wait_ms: number | null;
  flow_max_batch: number | null;
  created_at: Date;
}

function toEmployee(row: EmployeeRow): Employee {
  const limits: EmployeeLimits = {};
  if (row.max_steps !== null) limits.maxSteps = row.max_steps;
  if (row.max_tokens !== null) limits.maxTokens = row.max_tokens;
  if (row.deadline_ms !== null) limits.deadlineMs = row.deadline_ms;
  if (row.max_credits !== null) limits.maxCredits = row.max_credits;
  if (row.max_prompt_tokens !== null) limits.maxPromptTokens = row.max_prompt_tokens;
  if (row.max_tool_calls_per_turn !== null) limits.maxToolCallsPerTurn = row.max_tool_calls_per_turn;
  if (row.max_tool_calls !== null) limits.maxToolCalls = row.max_tool_calls;
  if (row.max_webhook_bytes !== null) limits.maxWebhookBytes = row.max_webhook_bytes;
  return {
    id: row.id,
    accountId: row.account_id,
    name: row.name,
    instructions: row.instructions,
    model: row.model ?? undefined,
    tools: row.tools.filter((t): t is ToolName => (TOOL_NAMES as readonly string[]).includes(t)),
    limits,
    keepNotes: row.keep_notes,
    flow: {
      mode: row.flow_mode,
      ...(row.flow_concurrency !== null ? { concurrency: row.flow_concurrency } : {}),
      ...(row.flow_debounce_ms !== null ? { debounceMs: row.flow_debounce_ms } : {}),
      ...(row.flow_max_wait_ms !== null ? { maxWaitMs: row.flow_max_wait_ms } : {}),
      ...(row.flow_max_batch !== null ? { maxBatch: row.flow_max_batch } : {}),
    },
    createdAt: row.created_at.toISOString(),
  };
}

/** NULL when the account does not exist (the foreign key would refuse it anyway). */
const insertEmployee = statement<{ id: string; accountId: string; name: string; instructions: string; model?: string }, EmployeeRow>(
  'employees_insert',
  `INSERT INTO employees (id, account_id, name, instructions, model)
   SELECT :id, id, :name, :instructions, :model FROM accounts WHERE id = :accountId
   RETURNING *`,
);

const selectEmployee = statement<{ id: string }, EmployeeRow>('employees_select', `SELECT * FROM employees WHERE id = :id`);

const selectEmployeesOfAccount = statement<{ accountId: string }, EmployeeRow>(
  'employees_of_account',
  `SELECT * FROM employees WHERE account_id = :accountId ORDER BY created_at, id`,
);

/** Turns tools on and off; the set stays sorted and without repeats. */
const setTools = statement<{ id: string; enable: string[]; disable: string[] }, EmployeeRow>(
  'employees_set_tools',
  `UPDATE employees SET tools = ARRAY(
     SELECT DISTINCT t FROM unnest(tools || :enable::text[]) AS t WHERE t <> ALL (:disable::text[]) ORDER BY t)
   WHERE id = :id
   RETURNING *`,
);

/** Only the limits given change: NULL keeps the stored value. */
const updateLimits = statement<EmployeeLimits & { id: string; keepNotes?: boolean }, EmployeeRow>(
  'employees_update_limits',
  `UPDATE employees SET
     max_steps = coalesce(:maxSteps, max_steps),
     max_tokens = coalesce(:maxTokens, max_tokens),
     deadline_ms = coalesce(:deadlineMs, deadline_ms),
     max_credits = coalesce(:maxCredits, max_credits),
     max_prompt_tokens = coalesce(:maxPromptTokens, max_prompt_tokens),
     max_tool_calls_per_turn = coalesce(:maxToolCallsPerTurn, max_tool_calls_per_turn),
     max_tool_calls = coalesce(:maxToolCalls, max_tool_calls),
     max_webhook_bytes = coalesce(:maxWebhookBytes, max_webhook_bytes),
     keep_notes = coalesce(:keepNotes, keep_notes)
   WHERE id = :id
   RETURNING *`,
);

/** Only the settings given change: NULL keeps the stored value. Applies to events accepted after it. */
const updateFlow = statement<{ id: string; mode?: FlowMode; concurrency?: number; debounceMs?: number; maxWaitMs?: number; maxBatch?: number }, EmployeeRow>(
  'employees_update_flow',
  `UPDATE employees SET
     flow_mode = coalesce(:mode, flow_mode),
     flow_concurrency = coalesce(:concurrency, flow_concurrency),
     flow_debounce_ms = coalesce(:debounceMs, flow_debounce_ms),
     flow_max_wait_ms = coalesce(:maxWaitMs, flow_max_wait_ms),
     flow_max_batch = coalesce(:maxBatch, flow_max_batch)
   WHERE id = :id
   RETURNING *`,
);

const deleteEmployee = statement<{ id: string }, { id: string }>('employees_delete', `DELETE FROM employees WHERE id = :id RETURNING id`);

/** A prompt budget must leave an event at least this much room beside the instructions. */
const MIN_EVENT_TOKENS = 256;

/** A limit that cannot work for this employee; the message says what would. */
export class InvalidLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidLimitError';
  }
}

/**
 * How long an API process trusts what it read about an employee: a new employee is found at once
 * (misses are not cached for longer than this either), a deleted one is refused within this long.
 */
export const EMPLOYEE_CACHE_TTL_MS = 1_000;

/** An account's AI employees: their instructions, model, tools and limits. */
export class EmployeeStore {
  private readonly cache = new LRUCache<string, { found: Employee | null }>({ max: 10_000, ttl: EMPLOYEE_CACHE_TTL_MS });

  constructor(private readonly db: pg.Pool) {}

  /**
   * `getEmployee` through a one-second cache, for the ingest's 404 check: a busy employee costs no
   * database round trip. An event accepted for an employee deleted within that second fails in its
   * workflow (EMPLOYEE_NOT_FOUND) and is charged nothing.
   */
  async getEmployeeCached(id: string): Promise<Employee | undefined> {
    const cached = this.cache.get(id);
    if (cached) return cached.found ?? undefined;
    const found = await this.getEmployee(id);
    this.cache.set(id, { found: found ?? null });
    return found;
  }

  async createEmployee(input: { accountId: string; name: string; instructions?: string; model?: string }): Promise<Employee> {
    const [row] = isUuid(input.accountId)
      ? await insertEmployee.run(this.db, {
          id: randomUUID(),
          accountId: input.accountId,
          name: input.name,
          instructions: input.instructions ?? `You are ${input.name}, an AI employee. Act on incoming events.`,
          model: input.model,
        })
      : [];
    if (!row) throw new NotFoundError('account', input.accountId);
    return toEmployee(row);
  }

  async getEmployee(id: string): Promise<Employee | undefined> {
    if (!isUuid(id)) return undefined;
    const [row] = await selectEmployee.run(this.db, { id });
    return row && toEmployee(row);
  }

  /** An account's employees, oldest first. */
  async listEmployees(accountId: string): Promise<Employee[]> {
    if (!isUuid(accountId)) return [];
    return (await selectEmployeesOfAccount.run(this.db, { accountId })).map(toEmployee);
  }

  async setTools(id: string, change: { enable?: ToolName[]; disable?: ToolName[] }): Promise<Employee> {
    const [row] = isUuid(id) ? await setTools.run(this.db, { id, enable: change.enable ?? [], disable: change.disable ?? [] }) : [];
    if (!row) throw new NotFoundError('employee', id);
    return toEmployee(row);
  }

  /**
   * Changes the limits given (and whether the employee keeps notes). A prompt budget that could not
   * hold the employee's own instructions and our framing, with room for an event, is refused.
   */
  async updateLimits(id: string, limits: EmployeeLimits & { keepNotes?: boolean }): Promise<Employee> {
    if (limits.maxPromptTokens !== undefined) {
      const employee = await this.getEmployee(id);
      if (!employee) throw new NotFoundError('employee', id);
      const needed = estimateTokens(systemMessage(employee.instructions)) + MIN_EVENT_TOKENS;
      if (limits.maxPromptTokens < needed) {
        throw new InvalidLimitError(
          `--max-prompt-tokens ${limits.maxPromptTokens} is too small: this employee's instructions and the framing take about ` +
            `${needed - MIN_EVENT_TOKENS} tokens, and an event needs room too. Use at least ${needed}, or shorten the instructions.`,
        );
      }
    }
    const [row] = isUuid(id) ? await updateLimits.run(this.db, { id, ...limits }) : [];
    if (!row) throw new NotFoundError('employee', id);
    return toEmployee(row);
  }

  async updateFlow(id: string, flow: Partial<FlowSettings>): Promise<Employee> {
    const [row] = isUuid(id) ? await updateFlow.run(this.db, { id, ...flow }) : [];
    if (!row) throw new NotFoundError('employee', id);
    return toEmployee(row);
  }

  /** The employee's inbox, memory and ledger entries stay: they are history. */
  async deleteEmployee(id: string): Promise<void> {
    const [row] = isUuid(id) ? await deleteEmployee.run(this.db, { id }) : [];
    if (!row) throw new NotFoundError('employee', id);
  }
}
