import { Option, type Command } from 'commander';
import type { z } from 'zod';
import { billingReport, GROUP_BY, PeriodParams, ReportParams } from '../billing/report';
import { reportCsv, reportTable } from '../billing/report-format';
import { reconcile, type ReconcileReport } from '../billing/reconcile';
import { EventRuns } from '../temporal/event-runs';
import { DEFAULT_LOOKBACK_MS, reconcileAll } from '../billing/reconcile-all';
import type { ReconcileSummary } from '../domain/billing';
import { nonNegativeInt } from './arguments';
import { CliError, fields, table } from './output';
import { action, withJson } from './run';

const FORMATS = ['table', 'csv', 'json'] as const;

/** Reservations younger than this are left alone: their workflow may be starting right now. */
const DEFAULT_STALE_AFTER_MINUTES = 15;

/** `billing report` and `billing reconcile`. */
export function registerBillingCommands(program: Command): void {
  const billing = program.command('billing').description('usage reports, and the ledger checked against Temporal');

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
        const report = await billingReport(ctx.usage, opts.account, params);
        const json = { ...report };
        if (opts.format === 'json') return { json, text: JSON.stringify(report) };
        if (opts.format === 'csv') return { json, text: reportCsv(report), raw: true };
        return { json, text: reportTable(report) };
      }),
    );

  withJson(billing.command('reconcile'))
    .description(
      'compare the ledger with the charges Temporal recorded; --repair posts what is missing (the billing-reconcile Schedule does this hourly for every account)',
    )
    .option('--account <account-id>', 'account id')
    .option('--all', 'every account, with --repair, over the last 24 hours, recorded like a scheduled run')
    .option('--history', 'list the latest reconcile runs (scheduled and --all)')
    .option('--from <when>', 'workflows started from (default: 30 days before --to)')
    .option('--to <when>', 'workflows started before (default: now)')
    .option('--repair', 'post missing charges (exactly once) and release reservations whose event never started')
    .option('--stale-after <minutes>', 'release reservations open at least this long with no running workflow', nonNegativeInt, DEFAULT_STALE_AFTER_MINUTES)
    .action(
      action<{ account?: string; all?: boolean; history?: boolean; from?: string; to?: string; repair?: boolean; staleAfter: number }>(
        async (ctx, _args, opts) => {
          if (opts.history) {
            const runs = await ctx.runs.latest();
            return { json: { runs }, text: runs.length ? runsTable(runs) : 'No reconcile has run yet.' };
          }
          if (opts.all) {
            const { summary } = await reconcileAll(
              { events: new EventRuns(await ctx.temporal()), ledger: ctx.ledger, accounts: ctx.accounts, runs: ctx.runs },
              { trigger: 'manual', lookbackMs: DEFAULT_LOOKBACK_MS, staleAfterMs: opts.staleAfter * 60_000 },
            );
            return { json: { ...summary }, text: runsTable([summary]), exitCode: summary.ok ? 0 : 1 };
          }
          if (!opts.account) throw new CliError('INVALID_ARGUMENT', 'Name an account with --account, or use --all or --history.', 2);
          await ctx.accounts.requireAccount(opts.account);
          const period = parse(PeriodParams, { from: opts.from, to: opts.to });
          const result = await reconcile(new EventRuns(await ctx.temporal()), ctx.ledger, {
            accountId: opts.account,
            ...period,
            repair: Boolean(opts.repair),
            staleAfterMs: opts.staleAfter * 60_000,
          });
          return { json: { ...result }, text: reconcileText(result), exitCode: result.ok ? 0 : 1 };
        },
      ),
    );
}

function parse<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new CliError('INVALID_ARGUMENT', `--${String(issue.path[0] ?? 'from').replace('_', '-')} ${issue.message}.`, 2);
}

function runsTable(runs: ReconcileSummary[]): string {
  return table(
    ['started', 'trigger', 'accounts', 'workflows', 'missing', 'repaired', 'stale released', 'mismatched', 'result'],
    runs.map((r) => [
      r.startedAt,
      r.trigger,
      String(r.accounts),
      String(r.workflows),
      String(r.missing),
      String(r.repaired),
      String(r.staleReleased),
      String(r.mismatched),
      r.ok ? 'OK' : 'PROBLEMS',
    ]),
  );
}

function reconcileText(r: ReconcileReport): string {
  const summary = fields([
    ['account', r.account_id],
    ['period', `workflows started ${r.from} to ${r.to} (exclusive)`],
    ['workflows', String(r.workflows)],
    ['in the ledger', `${r.matched} charge(s) match`],
    ['not settled', `${r.pending} running, ${r.uncharged} closed without a charge (failed)`],
    [
      'missing',
      r.missing.length === 0
        ? 'none'
        : `${r.missing.length} charge(s) not in the ledger${r.repair ? `, ${r.missing.filter((m) => m.repaired).length} repaired` : ''}`,
    ],
    ['mismatched', String(r.mismatched.length)],
    [
      'stale reservations',
      r.stale_reservations.length === 0 ? 'none' : `${r.stale_reservations.length}, ${r.stale_reservations.filter((s) => s.released).length} released`,
    ],
    ['result', r.ok ? 'OK' : r.repair ? 'PROBLEMS REMAIN' : 'DIFFERENCES FOUND (run with --repair to post missing charges)'],
  ]);
  const parts = [summary];
  if (r.missing.length > 0) {
    parts.push(
      table(
        ['message', 'workflow', 'credits', 'repaired'],
        r.missing.map((m) => [m.message_id, m.workflow_id, String(m.credits), m.repaired ? 'yes' : 'no']),
      ),
    );
  }
  if (r.mismatched.length > 0) {
    parts.push(
      table(
        ['message', 'workflow', 'history', 'ledger'],
        r.mismatched.map((m) => [m.message_id, m.workflow_id, String(m.history_credits), String(m.ledger_credits)]),
      ),
    );
  }
  if (r.stale_reservations.length > 0) {
    parts.push(
      table(
        ['message', 'reserved at', 'why', 'released'],
        r.stale_reservations.map((s) => [s.message_id, s.since, s.why, s.released ? 'yes' : 'no']),
      ),
    );
  }
  return parts.join('\n\n');
}
