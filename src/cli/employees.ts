import type { Command } from 'commander';
import { NotFoundError } from '../stores/accounts';
import type { Employee, FlowMode } from '../stores/employees';
import { duration, flowMode, inboxLimit, nonEmpty, positiveInt, toolList } from './arguments';
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
        mode?: FlowMode;
        concurrency?: number;
        debounce?: number;
        maxWait?: number;
        maxBatch?: number;
      }>(async (ctx, [id], opts) => {
        const limits = { maxSteps: opts.maxSteps, maxTokens: opts.maxTokens, deadlineMs: opts.deadline, maxCredits: opts.maxCredits };
        const flow = { mode: opts.mode, concurrency: opts.concurrency, debounceMs: opts.debounce, maxWaitMs: opts.maxWait, maxBatch: opts.maxBatch };
        const limitsGiven = Object.values(limits).some((v) => v !== undefined);
        const flowGiven = Object.values(flow).some((v) => v !== undefined);
        if (!limitsGiven && !flowGiven) {
          throw new CliError(
            'INVALID_ARGUMENT',
            'Give at least one of --max-steps, --max-tokens, --deadline, --max-credits, --mode, --concurrency, --debounce, --max-wait, --max-batch.',
            2,
          );
        }
        let updated = limitsGiven ? await ctx.employees.updateLimits(id, limits) : undefined;
        // A mode change applies to events accepted after it (within the API's one-second employee cache).
        if (flowGiven) updated = await ctx.employees.updateFlow(id, flow);
        return employeeResult(updated!, ctx.config);
      }),
    );

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

/** The employee with its effective limits: its own where set, else the service's. */
function employeeResult(e: Employee, config: CliContext['config']): CommandResult {
  const limits = {
    max_steps: e.limits.maxSteps ?? config.AGENT_MAX_STEPS,
    max_tokens: e.limits.maxTokens ?? config.AGENT_MAX_TOKENS,
    deadline_ms: e.limits.deadlineMs ?? config.AGENT_DEADLINE_MS,
    max_credits: e.limits.maxCredits ?? config.AGENT_MAX_CREDITS,
  };
  const own = (value: number | undefined) => (value === undefined ? ' (default)' : '');
  return {
    json: { employee_id: e.id, account_id: e.accountId, name: e.name, model: e.model ?? null, tools: e.tools, limits, flow: flowJson(e) },
    text: fields([
      ['employee', e.id],
      ['name', e.name],
      ['model', e.model ?? 'default'],
      ['tools', e.tools.join(', ') || 'none'],
      ['max steps', `${limits.max_steps}${own(e.limits.maxSteps)}`],
      ['max tokens', `${limits.max_tokens}${own(e.limits.maxTokens)}`],
      ['deadline', `${limits.deadline_ms / 1000} s${own(e.limits.deadlineMs)}`],
      ['max credits', `${limits.max_credits}${own(e.limits.maxCredits)}`],
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
