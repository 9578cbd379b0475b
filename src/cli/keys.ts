import type { Command } from 'commander';
import { NotFoundError } from '../stores/accounts';
import type { ApiKeyInfo } from '../stores/api-keys';
import { nonEmpty } from './arguments';
import { fields, orDash, table } from './output';
import { action, withJson } from './run';

/** Only what identifies a key: the hash and the raw secret never leave the store. */
function keyJson(info: ApiKeyInfo): Record<string, unknown> {
  return {
    key_id: info.id,
    account_id: info.accountId,
    name: info.name,
    prefix: info.prefix,
    created_at: info.createdAt,
    last_used_at: info.lastUsedAt ?? null,
    revoked_at: info.revokedAt ?? null,
  };
}

/** `key create|list|revoke`. */
export function registerKeyCommands(program: Command): void {
  const key = program.command('key').description('API keys for the webhook endpoint');

  withJson(key.command('create'))
    .description('create an API key; the key itself is shown this once')
    .requiredOption('--account <account-id>', 'account id')
    .requiredOption('--name <name>', 'a name to recognise the key by', nonEmpty)
    .action(
      action<{ account: string; name: string }>(async (ctx, _args, opts) => {
        const { key: raw, info } = await ctx.keys.createApiKey(opts.account, opts.name);
        return {
          json: { ...keyJson(info), key: raw },
          text: `${fields([
            ['key_id', info.id],
            ['name', info.name],
            ['key', raw],
          ])}\n\nThis key is shown once and cannot be recovered: copy it now. Send it as "Authorization: Bearer <key>".`,
        };
      }),
    );

  withJson(key.command('list'))
    .description('list an account’s keys (never the keys themselves); "last used" is updated at most once a minute')
    .requiredOption('--account <account-id>', 'account id')
    .action(
      action<{ account: string }>(async (ctx, _args, opts) => {
        const infos = await ctx.keys.listApiKeys(opts.account);
        return {
          json: { account_id: opts.account, keys: infos.map(keyJson) },
          text:
            infos.length === 0
              ? `Account ${opts.account} has no keys.`
              : table(
                  ['key_id', 'name', 'prefix', 'created', 'last used', 'revoked'],
                  infos.map((i) => [i.id, i.name, `${i.prefix}…`, i.createdAt, orDash(i.lastUsedAt), orDash(i.revokedAt)]),
                ),
        };
      }),
    );

  withJson(key.command('revoke').argument('<key-id>'))
    .description('revoke a key; the next request with it gets 401')
    .requiredOption('--account <account-id>', 'account the key belongs to')
    .action(
      action<{ account: string }>(async (ctx, [keyId], opts) => {
        // Check the account first so a mistyped account id is reported as such, not as a missing key.
        await ctx.accounts.requireAccount(opts.account);
        const existing = await ctx.keys.getApiKey(keyId);
        if (!existing || existing.accountId !== opts.account) throw new NotFoundError('key', keyId);
        // Revoking again would overwrite the original revocation time; keep it and say so.
        const info = existing.revokedAt ? existing : await ctx.keys.revokeApiKey(opts.account, keyId);
        const already = existing.revokedAt !== undefined;
        return {
          json: { ...keyJson(info), already_revoked: already },
          text: already ? `Key ${keyId} was already revoked at ${info.revokedAt}.` : `Revoked key ${keyId} (${info.name}).`,
        };
      }),
    );
}
