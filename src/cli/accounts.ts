import { Argument, type Command } from 'commander';
import { publicUrl } from '../config';
import { SIGN_IN_LINK_TTL_MS } from '../console/sign-in';
import type { Account } from '../stores/accounts';
import type { Employee } from '../stores/employees';
import { email, nonNegativeInt, positiveInt } from './arguments';
import { fields, table, type CommandResult } from './output';
import { action, withJson } from './run';

/** The account as scripts see it: snake_case like the HTTP API; a null rate limit means the service default. */
export function accountJson(account: Account): Record<string, unknown> {
  return {
    account_id: account.id,
    email: account.email,
    email_verified: account.emailVerified,
    webhook_enabled: account.webhookEnabled,
    rate_limit_per_minute: account.rateLimitPerMinute ?? null,
    created_at: account.createdAt,
  };
}

function accountText(account: Account, extra: Array<[string, string]> = []): string {
  return fields([
    ['account', account.id],
    ['email', account.email],
    ['email verified', account.emailVerified ? 'yes' : 'no'],
    ['webhook channel', account.webhookEnabled ? 'enabled' : 'disabled'],
    ['rate limit', account.rateLimitPerMinute ? `${account.rateLimitPerMinute}/min` : 'service default (RATE_LIMIT_PER_MINUTE)'],
    ['created', account.createdAt],
    ...extra,
  ]);
}

const show = (account: Account): CommandResult => ({ json: accountJson(account), text: accountText(account) });

/** `account create|show|verify-email|set-rate-limit|sign-in-link` and `channel enable|disable webhook`. */
export function registerAccountCommands(program: Command): void {
  const account = program.command('account').description('create and inspect accounts');

  withJson(account.command('create'))
    .description('create an account (email unverified and webhook channel off unless flagged)')
    .requiredOption('--email <email>', 'owner email, unique across accounts', email)
    .option('--verified', 'mark the email as verified')
    .option('--webhook-enabled', 'turn the webhook channel on')
    .option('--credits <n>', 'starting credit balance', nonNegativeInt)
    .action(
      action<{ email: string; verified?: boolean; webhookEnabled?: boolean; credits?: number }>(async (ctx, _args, opts) => {
        const created = await ctx.accounts.createAccount({ email: opts.email, emailVerified: opts.verified, webhookEnabled: opts.webhookEnabled });
        const balance = opts.credits ? (await ctx.ledger.topUp(created.id, opts.credits)).balance : 0;
        return {
          json: { ...accountJson(created), balance },
          text: `Created account ${created.id}\n\n${accountText(created, [['credits', String(balance)]])}`,
        };
      }),
    );

  withJson(account.command('show').argument('<account-id>'))
    .description('show an account with its credits and employees')
    .action(
      action(async (ctx, [id]) => {
        const found = await ctx.accounts.requireAccount(id);
        const [balance, employees] = await Promise.all([ctx.ledger.balance(id), ctx.employees.listEmployees(id)]);
        return {
          json: { ...accountJson(found), balance, employees: employees.map(employeeSummary) },
          text: `${accountText(found, [['credits', String(balance)]])}\n\n${employeesText(employees)}`,
        };
      }),
    );

  withJson(account.command('verify-email').argument('<account-id>'))
    .description('mark the account email as verified (the webhook endpoint answers 403 until it is)')
    .action(action(async (ctx, [id]) => show(await ctx.accounts.updateAccount(id, { emailVerified: true }))));

  withJson(account.command('set-rate-limit').argument('<account-id>'))
    .description('override the per-account webhook rate limit')
    .requiredOption('--per-minute <n>', 'requests per minute', positiveInt)
    .action(action<{ perMinute: number }>(async (ctx, [id], opts) => show(await ctx.accounts.updateAccount(id, { rateLimitPerMinute: opts.perMinute }))));

  withJson(account.command('sign-in-link'))
    .description('print a one-time console sign-in link for an email, as the sign-in mail would carry (single use, 15 minutes)')
    .requiredOption('--email <email>', 'the address to sign in; opening the link creates its account if there is none', email)
    .action(
      action<{ email: string }>(async (ctx, _args, opts) => {
        const token = await ctx.sessions.createLink(opts.email, SIGN_IN_LINK_TTL_MS);
        const link = `${publicUrl(ctx.config)}/sign-in/link?token=${encodeURIComponent(token)}`;
        const expiresAt = new Date(Date.now() + SIGN_IN_LINK_TTL_MS).toISOString();
        return {
          json: { email: opts.email, link, expires_at: expiresAt },
          text: `${link}
(works once, until ${expiresAt})`,
        };
      }),
    );

  const channel = program.command('channel').description('turn inbound channels on or off');
  for (const [verb, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    withJson(channel.command(verb).addArgument(new Argument('<channel>', 'channel name').choices(['webhook'])))
      .description(`${verb} an inbound channel for an account`)
      .requiredOption('--account <account-id>', 'account id')
      .action(
        action<{ account: string }>(async (ctx, [name], opts) => {
          const updated = await ctx.accounts.updateAccount(opts.account, { webhookEnabled: enabled });
          return {
            json: { account_id: updated.id, channel: name, enabled: updated.webhookEnabled },
            text: `${name} channel ${enabled ? 'enabled' : 'disabled'} for account ${updated.id}`,
          };
        }),
      );
  }
}

function employeeSummary(e: Employee): Record<string, unknown> {
  return { employee_id: e.id, name: e.name, model: e.model ?? null, created_at: e.createdAt };
}

function employeesText(employees: Employee[]): string {
  if (employees.length === 0) return 'No employees yet.';
  return table(
    ['employee', 'name', 'model', 'created'],
    employees.map((e) => [e.id, e.name, e.model ?? 'default', e.createdAt]),
  );
}
