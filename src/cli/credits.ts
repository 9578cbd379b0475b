import type { Command } from 'commander';
import { positiveInt } from './arguments';
import { fields } from './output';
import { action, withJson } from './run';

/** `credits add|show`. */
export function registerCreditCommands(program: Command): void {
  const credits = program.command('credits').description('credit balances');

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
    .description('show an account’s credit balance')
    .requiredOption('--account <account-id>', 'account id')
    .action(
      action<{ account: string }>(async (ctx, _args, opts) => {
        await ctx.accounts.requireAccount(opts.account);
        const balance = await ctx.ledger.balance(opts.account);
        // Charges are posted after each event finishes; nothing is held in advance yet, so reserved is 0.
        const reserved = 0;
        return {
          json: { account_id: opts.account, balance, reserved },
          text: fields([
            ['account', opts.account],
            ['balance', String(balance)],
            ['reserved', String(reserved)],
          ]),
        };
      }),
    );
}
