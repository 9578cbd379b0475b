import type { Command } from 'commander';
import { NotFoundError } from '../stores/accounts';
import { InvalidLimitError, type Employee, type FlowMode } from '../stores/employees';
import { duration, flowMode, inboxLimit, nonEmpty, nonNegativeInt, positiveInt, toolList } from './arguments';
import { CliError, fields, table, truncate, type CommandResult } from './output';
import { action, withJson, type CliContext } from './run';

/** Wide enough to recognise a message in a terminal; `--json` carries the full text. */
const INBOX_TEXT_WIDTH = 72;

/** `employee create|show|tools|update|inbox`. */
export function registerEmployeeCommands(program: Command): void {
  const employee = program.command('employee').description('create employees, turn their tools on, set their limits, read their inbox');

  withJson(employee.command('create'))
    .description('create an AI employee under an account')
    .requiredOption('--account <account-id>', 'account id')
    .requiredOption('--name <name>', 'display name', nonEmpty)
    .option('--instructions <text>', 'system instructions (default: a generic event handler)')
    .option('--model <model>', 'model name (default: OPENAI_MODEL of the worker)')
    .action(
      action<{ account: string; name: string; instructions?: string; model?: string }>(async (ctx, _args, opts) => {
        const created = await ctx.employees.createEmployee({ accountId: opts.account, name: opts.name, instructions: opts.instructions, model: opts.model });
        return {
          json: { employee_id: created.id, account_id: created.accountId, name: created.name, model: created.model ?? null, created_at: created.createdAt },
          text: `Created employee ${created.id}\n\n${fields([
            ['employee', created.id],
            ['account', created.accountId],
            ['name', created.name],
            ['model', created.model ?? 'default'],
            ['instructions', truncate(created.instructions, INBOX_TEXT_WIDTH)],
          ])}`,
        };
      }),
    );

  withJson(employee.command('show').argument('<employee-id>'))
    .description('show an employee: model, tools and limits')
    .action(
      action(async (ctx, [id]) => {
        const found = await ctx.employees.getEmployee(id);
        if (!found) throw new NotFoundError('employee', id);
        return employeeResult(found, ctx.config);
      }),
    );

  withJson(employee.command('tools').argument('<employee-id>'))
    .description('turn tools on or off (send_webhook, remember, reply); the model sees only the tools turned on')
    .option('--enable <tools>', 'comma-separated tools to turn on', toolList)
    .option('--disable <tools>', 'comma-separated tools to turn off', toolList)
    .action(
      action<{ enable?: Employee['tools']; disable?: Employee['tools'] }>(async (ctx, [id], opts) => {
        if (!opts.enable && !opts.disable) throw new CliError('INVALID_ARGUMENT', 'Give --enable and/or --disable.', 2);
        return employeeResult(await ctx.employees.setTools(id, { enable: opts.enable, disable: opts.disable }), ctx.config);
      }),
    );

  withJson(employee.command('update').argument('<employee-id>'))
    .description("set the employee's limits per event (unset ones keep the service defaults) and how it takes its events")
    .option('--max-steps <n>', 'model turns per event', positiveInt)
    .option('--max-tokens <n>', 'max_tokens of each model call', positiveInt)
    .option('--deadline <duration>', 'the whole event, from acceptance: 90s, 30m, 1h', duration)
    .option('--max-credits <n>', 'credits one event may spend', positiveInt)
    .option('--max-prompt-tokens <n>', 'tokens one prompt may hold: instructions, notes, memory and the event are fitted into it', positiveInt)
    .option('--max-tool-calls-per-turn <n>', 'tool calls one model turn may make (the rest are refused back to the model)', nonNegativeInt)
    .option('--max-tool-calls <n>', 'tool calls one event may make', nonNegativeInt)
    .option('--max-webhook-bytes <n>', 'bytes send_webhook may send in one event', nonNegativeInt)
    .option('--notes <on|off>', 'off: the employee keeps no notes (remember is not offered, none are shown)', onOff)
    .option('--mode <mode>', 'parallel|ordered|batch: every event at once, one at a time in acceptance order, or debounced into one run', flowMode)
    .option('--concurrency <n>', 'ordered: events of this employee that may run at once (default 1)', positiveInt)
    .option('--debounce <duration>', 'batch: a batch closes after this long without a new event (default 30s)', duration)
    .option('--max-wait <duration>', 'batch: or this long after its first event (default 5m)', duration)
    .option('--max-batch <n>', 'batch: or once it holds this many events (default 50)', positiveInt)
    .action(
      action<{
        maxSteps?: number;
        maxTokens?: number;
        deadline?: number;
        maxCredits?: number;
        maxPromptTokens?: number;
        maxToolCallsPerTurn?: number;
        maxToolCalls?: number;
        maxWebhookBytes?: number;
        notes?: boolean;
        mode?: FlowMode;
        concurrency?: number;
        debounce?: number;
        maxWait?: number;
        maxBatch?: number;
      }>(async (ctx, [id], opts) => {
        const limits = {
          maxSteps: opts.maxSteps,
          maxTokens: opts.maxTokens,
          deadlineMs: opts.deadline,
          maxCredits: opts.maxCredits,
          maxPromptTokens: opts.maxPromptTokens,
          maxToolCallsPerTurn: opts.maxToolCallsPerTurn,
          maxToolCalls: opts.maxToolCalls,
          maxWebhookBytes: opts.maxWebhookBytes,
          keepNotes: opts.notes,
        };
        const flow = { mode: opts.mode, concurrency: opts.concurrency, debounceMs: opts.debounce, maxWaitMs: opts.maxWait, maxBatch: opts.maxBatch };
        const limitsGiven = Object.values(limits).some((v) => v !== undefined);
        const flowGiven = Object.values(flow).some((v) => v !== undefined);
        if (!limitsGiven && !flowGiven) {
          throw new CliError(
            'INVALID_ARGUMENT',
            'Give at least one of --max-steps, --max-tokens, --deadline, --max-credits, --max-prompt-tokens, --max-tool-calls-per-turn, --max-tool-calls, --max-webhook-bytes, --notes, --mode, --concurrency, --debounce, --max-wait, --max-batch.',
            2,
          );
        }
        let updated: Employee | undefined;
        try {
          if (limitsGiven) updated = await ctx.employees.updateLimits(id, limits);
        } catch (err) {
          if (err instanceof InvalidLimitError) throw new CliError('INVALID_ARGUMENT', err.message, 2);
          throw err;
        }
        // A mode change applies to events accepted after it (within the API's one-second employee cache).
        if (flowGiven) updated = await ctx.employees.updateFlow(id, flow);
        return employeeResult(updated!, ctx.config);
      }),
    );

  registerMemoryCommands(employee);

  withJson(employee.command('inbox').argument('<employee-id>'))
    .description('what the employee received and replied, newest first')
    .option('--limit <n>', 'entries to show (1-1000)', inboxLimit, 20)
    .action(
      action<{ limit: number }>(async (ctx, [id], opts) => {
        // An unknown id would read as an empty inbox; say it does not exist instead.
        if (!(await ctx.employees.getEmployee(id))) throw new NotFoundError('employee', id);
        const entries = await ctx.memory.inbox(id, opts.limit);
        return {
          json: {
            employee_id: id,
            entries: entries.map((e) => ({ at: e.at, message_id: e.messageId, direction: e.direction, text: e.text })),
          },
          text:
            entries.length === 0
              ? `Inbox of employee ${id} is empty.`
              : table(
                  ['at', 'direction', 'message', 'text'],
                  entries.map((e) => [e.at, e.direction, e.messageId, truncate(e.text, INBOX_TEXT_WIDTH)]),
                ),
        };
      }),
    );
}

/** `on` or `off`. */
function onOff(value: string): boolean {
  if (value === 'on' || value === 'off') return value === 'on';
  throw new CliError('INVALID_ARGUMENT', `Expected on or off, got ${JSON.stringify(value)}.`, 2);
}

/** `employee notes list|clear` and `employee memory list|clear`: what the employee keeps, for its owner to read and clear. */
function registerMemoryCommands(employee: Command): void {
  const notes = employee.command('notes').description('the notes the employee kept with remember, shown (as data) in its later prompts');
  withJson(notes.command('list').argument('<employee-id>'))
    .description('the notes, oldest first, each with the message whose event the employee was reading')
    .action(
      action(async (ctx, [id]) => {
        if (!(await ctx.employees.getEmployee(id))) throw new NotFoundError('employee', id);
        const kept = await ctx.memory.notes(id, 1_000);
        return {
          json: { employee_id: id, notes: kept.map((n) => ({ at: n.at, message_id: n.messageId, note: n.note })) },
          text: kept.length
            ? table(
                ['at', 'message', 'note'],
                kept.map((n) => [n.at, n.messageId, truncate(n.note, INBOX_TEXT_WIDTH)]),
              )
            : 'No notes.',
        };
      }),
    );
  withJson(notes.command('clear').argument('<employee-id>'))
    .description('forget every note')
    .action(
      action(async (ctx, [id]) => {
        if (!(await ctx.employees.getEmployee(id))) throw new NotFoundError('employee', id);
        const cleared = await ctx.memory.clearNotes(id);
        return { json: { employee_id: id, cleared }, text: `Cleared ${cleared} notes.` };
      }),
    );

  const memory = employee.command('memory').description('the earlier events and answers the employee is shown with each new event');
  withJson(memory.command('list').argument('<employee-id>'))
    .description('the memory turns, oldest first')
    .option('--limit <n>', 'turns to show (1-1000)', inboxLimit, 20)
    .action(
      action<{ limit: number }>(async (ctx, [id], opts) => {
        if (!(await ctx.employees.getEmployee(id))) throw new NotFoundError('employee', id);
        const turns = await ctx.memory.memory(id, opts.limit);
        return {
          json: { employee_id: id, turns: turns.map((t) => ({ at: t.at, message_id: t.messageId, role: t.role, content: t.content })) },
          text: turns.length
            ? table(
                ['at', 'message', 'role', 'content'],
                turns.map((t) => [t.at, t.messageId, t.role, truncate(t.content, INBOX_TEXT_WIDTH)]),
              )
            : 'No memory.',
        };
      }),
    );
  withJson(memory.command('clear').argument('<employee-id>'))
    .description('forget the conversation memory (the inbox stays)')
    .action(
      action(async (ctx, [id]) => {
        if (!(await ctx.employees.getEmployee(id))) throw new NotFoundError('employee', id);
        const cleared = await ctx.memory.clearMemory(id);
        return { json: { employee_id: id, cleared }, text: `Cleared ${cleared} memory turns.` };
      }),
    );
}

/** The employee with its effective limits: its own where set, else the service's. */
function employeeResult(e: Employee, config: CliContext['config']): CommandResult {
  const limits = {
    max_steps: e.limits.maxSteps ?? config.AGENT_MAX_STEPS,
    max_tokens: e.limits.maxTokens ?? config.AGENT_MAX_TOKENS,
    deadline_ms: e.limits.deadlineMs ?? config.AGENT_DEADLINE_MS,
    max_credits: e.limits.maxCredits ?? config.AGENT_MAX_CREDITS,
    max_prompt_tokens: e.limits.maxPromptTokens ?? config.AGENT_MAX_PROMPT_TOKENS,
    max_tool_calls_per_turn: e.limits.maxToolCallsPerTurn ?? config.AGENT_MAX_TOOL_CALLS_PER_TURN,
    max_tool_calls: e.limits.maxToolCalls ?? config.AGENT_MAX_TOOL_CALLS,
    max_webhook_bytes: e.limits.maxWebhookBytes ?? config.AGENT_MAX_WEBHOOK_BYTES,
  };
  const own = (value: number | undefined) => (value === undefined ? ' (default)' : '');
  return {
    json: {
      employee_id: e.id,
      account_id: e.accountId,
      name: e.name,
      model: e.model ?? null,
      tools: e.tools,
      keep_notes: e.keepNotes,
      limits,
      flow: flowJson(e),
    },
    text: fields([
      ['employee', e.id],
      ['name', e.name],
      ['model', e.model ?? 'default'],
      ['tools', e.tools.join(', ') || 'none'],
      ['max steps', `${limits.max_steps}${own(e.limits.maxSteps)}`],
      ['max tokens', `${limits.max_tokens}${own(e.limits.maxTokens)}`],
      ['deadline', `${limits.deadline_ms / 1000} s${own(e.limits.deadlineMs)}`],
      ['max credits', `${limits.max_credits}${own(e.limits.maxCredits)}`],
      ['max prompt tokens', `${limits.max_prompt_tokens}${own(e.limits.maxPromptTokens)}`],
      [
        'tool calls',
        `${limits.max_tool_calls_per_turn} a turn${own(e.limits.maxToolCallsPerTurn)}, ${limits.max_tool_calls} an event${own(e.limits.maxToolCalls)}`,
      ],
      ['webhook bytes', `${limits.max_webhook_bytes} an event${own(e.limits.maxWebhookBytes)}`],
      ['notes', e.keepNotes ? 'kept' : 'off'],
      ['mode', flowText(e)],
    ]),
  };
}

/** The mode with the settings that apply to it, defaults filled in. */
function flowJson(e: Employee): Record<string, unknown> {
  const f = e.flow;
  if (f.mode === 'ordered') return { mode: f.mode, concurrency: f.concurrency ?? 1 };
  if (f.mode === 'batch') return { mode: f.mode, debounce_ms: f.debounceMs ?? 30_000, max_wait_ms: f.maxWaitMs ?? 300_000, max_batch: f.maxBatch ?? 50 };
  return { mode: f.mode };
}

function flowText(e: Employee): string {
  return Object.entries(flowJson(e))
    .map(([k, v]) => (k === 'mode' ? String(v) : `${k}=${String(v)}`))
    .join(' ');
}
