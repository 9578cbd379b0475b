import type { Command } from 'commander';
import { verifySnapshot } from '../billing/verify';
import { positiveInt } from './arguments';
import { fields } from './output';
import { action, withJson } from './run';

/** `credits add|show|verify`. */
export function registerCreditCommands(program: Command): void {
  const credits = program.command('credits').description('credit balances and the ledger behind them');

  withJson(credits.command('add'))
    .description('top up an account’s credits')
    .requiredOption('--account <account-id>', 'account id')
    .requiredOption('--amount <n>', 'credits to add (a whole number above 0)', positiveInt)
    .action(
      action<{ account: string; amount: number }>(async (ctx, _args, opts) => {
        // The ledger accepts any id; checking first keeps a typo from creating an orphan balance.
        await ctx.accounts.requireAccount(opts.account);
        const { balance, posting } = await ctx.ledger.topUp(opts.account, opts.amount);
        return {
          json: { account_id: opts.account, added: opts.amount, balance, posting_id: posting.id },
          text: `Added ${opts.amount} credits to account ${opts.account}; balance is now ${balance}.`,
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
        const result = verifySnapshot(opts.account, await ctx.ledger.snapshot(opts.account));
        const text = fields([
          ['account', opts.account],
          ['postings', String(result.postings)],
          ['balance', `${result.balance.counter} (sum of postings: ${result.balance.ledger})`],
          ['reserved', `${result.reserved.counter} (sum of postings: ${result.reserved.ledger}; ${result.open_reservations} open)`],
          ['result', result.ok ? 'OK: the ledger adds up' : `MISMATCH: ${result.problems.length} problem(s)`],
        ]);
        return {
          json: { ...result },
          text: result.ok ? text : `${text}\n${result.problems.map((p) => `  - ${p}`).join('\n')}`,
          exitCode: result.ok ? 0 : 1,
        };
      }),
    );
}
