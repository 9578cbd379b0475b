import { Option, type Command } from 'commander';
import type { z } from 'zod';
import { billingReport, GROUP_BY, ReportParams } from '../billing/report';
import { reportCsv, reportTable } from '../billing/report-format';
import { CliError } from './output';
import { action, withJson } from './run';

const FORMATS = ['table', 'csv', 'json'] as const;

/** `billing report`. */
export function registerBillingCommands(program: Command): void {
  const billing = program.command('billing').description('usage reports');

  withJson(billing.command('report'))
    .description('credits, tokens, runtime and events per group for [from, to), with totals')
    .requiredOption('--account <account-id>', 'account id')
    .option('--from <when>', 'start, inclusive: 2024-05-01 or an ISO timestamp with Z/offset (default: 30 days before --to)')
    .option('--to <when>', 'end, exclusive: a date means its midnight UTC (default: now)')
    .addOption(new Option('--group-by <group>', 'rows per').choices(GROUP_BY).default('employee'))
    .addOption(new Option('--format <format>', 'output').choices(FORMATS).default('table'))
    .action(
      action<{ account: string; from?: string; to?: string; groupBy: string; format: (typeof FORMATS)[number] }>(async (ctx, _args, opts) => {
        await ctx.accounts.requireAccount(opts.account);
        const params = parse(ReportParams, { from: opts.from, to: opts.to, group_by: opts.groupBy });
        const report = await billingReport(ctx.ledger, opts.account, params);
        const json = { ...report };
        if (opts.format === 'json') return { json, text: JSON.stringify(report) };
        if (opts.format === 'csv') return { json, text: reportCsv(report), raw: true };
        return { json, text: reportTable(report) };
      }),
    );
}

function parse<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new CliError('INVALID_ARGUMENT', `--${String(issue.path[0] ?? 'from').replace('_', '-')} ${issue.message}.`, 2);
}
