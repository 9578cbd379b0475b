import type { Command } from 'commander';
import { verifyAudit } from '../billing/verify';
import { nonEmpty, positiveInt } from './arguments';
import { fields } from './output';
import { action, withJson } from './run';

/** `credits add|show|verify`. */
export function registerCreditCommands(program: Command): void {
  const credits = program.command('credits').description('credit balances and the ledger behind them');

  withJson(credits.command('add'))
    .description('top up an account’s credits')
    .requiredOption('--account <account-id>', 'account id')
    .requiredOption('--amount <n>', 'credits to add (a whole number above 0)', positiveInt)
    .option('--reference <ref>', 'your reference for this top-up (an invoice number): the same reference adds once', nonEmpty)
    .action(
      action<{ account: string; amount: number; reference?: string }>(async (ctx, _args, opts) => {
        await ctx.accounts.requireAccount(opts.account);
        const { added, balance, posting } = await ctx.ledger.topUp(opts.account, opts.amount, opts.reference);
        return {
          json: {
            account_id: opts.account,
            added: added ? opts.amount : 0,
            balance,
            posting_id: posting.id,
            reference: opts.reference ?? null,
            duplicate: !added,
          },
          text: added
            ? `Added ${opts.amount} credits to account ${opts.account}; balance is now ${balance}.`
            : `Reference ${opts.reference} was already added (posting ${posting.id}); nothing added. Balance is ${balance}.`,
        };
      }),
    );

  withJson(credits.command('show'))
    .description('show an account’s balance and the credits held for events in flight')
    .requiredOption('--account <account-id>', 'account id')
    .action(
      action<{ account: string }>(async (ctx, _args, opts) => {
        await ctx.accounts.requireAccount(opts.account);
        const { balance, reserved } = await ctx.ledger.counters(opts.account);
        return {
          json: { account_id: opts.account, balance, reserved },
          text: fields([
            ['account', opts.account],
            ['balance', String(balance)],
            ['reserved', `${reserved} (held for events in flight)`],
            ['available', `${balance - reserved} (a new event needs ${ctx.config.RESERVE_CREDITS_PER_EVENT})`],
          ]),
        };
      }),
    );

  withJson(credits.command('verify'))
    .description('check that the balance and the reserved credits equal the sums of the ledger’s postings (exit 1 if not)')
    .requiredOption('--account <account-id>', 'account id')
    .action(
      action<{ account: string }>(async (ctx, _args, opts) => {
        await ctx.accounts.requireAccount(opts.account);
        const audit = await ctx.ledger.audit(opts.account);
        if (!audit) throw new Error(`account ${opts.account} has no credit balance`);
        const result = verifyAudit(opts.account, audit);
        const text = fields([
          ['account', opts.account],
          ['postings', String(result.postings)],
          ['balance', `${result.balance.counter} (sum of postings: ${result.balance.ledger})`],
          ['reserved', `${result.reserved.counter} (sum of postings: ${result.reserved.ledger}; ${result.open_reservations} open)`],
          ['result', result.ok ? 'OK: the ledger adds up' : `MISMATCH: ${result.problems.length} problem(s)`],
        ]);
        return {
          json: { ...result },
          text: result.ok ? text : `${text}\n${result.problems.map((p: string) => `  - ${p}`).join('\n')}`,
          exitCode: result.ok ? 0 : 1,
        };
      }),
    );
}
