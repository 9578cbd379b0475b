import type { Command } from 'commander';
import { NotFoundError } from '../stores/accounts';
import { inboxLimit, nonEmpty } from './arguments';
import { fields, table, truncate } from './output';
import { action, withJson } from './run';

/** Wide enough to recognise a message in a terminal; `--json` carries the full text. */
const INBOX_TEXT_WIDTH = 72;

/** `employee create` and `employee inbox`. */
export function registerEmployeeCommands(program: Command): void {
  const employee = program.command('employee').description('create employees and read their inbox');

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
              : table(['at', 'direction', 'message', 'text'], entries.map((e) => [e.at, e.direction, e.messageId, truncate(e.text, INBOX_TEXT_WIDTH)])),
        };
      }),
    );
}
