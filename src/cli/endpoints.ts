import type { Command } from 'commander';
import { secretKeys } from '../secrets/secret-box';
import { EndpointStore } from '../stores/endpoints';
import { jsonSchemaFile, nonEmpty, nonNegativeInt, webhookUrl } from './arguments';
import { fields, table } from './output';
import { action, withJson } from './run';

/** `endpoint add|list|remove`: where an employee's send_webhook may deliver. */
export function registerEndpointCommands(program: Command): void {
  const endpoint = program.command('endpoint').description("an employee's outbound webhook endpoints (for the send_webhook tool)");

  withJson(endpoint.command('add'))
    .description('register an endpoint; prints its signing secret once (Standard Webhooks, whsec_…)')
    .requiredOption('--employee <employee-id>', 'employee id')
    .requiredOption('--name <name>', 'the name the employee uses for it', nonEmpty)
    .requiredOption('--url <url>', 'http(s) URL deliveries are POSTed to', webhookUrl)
    .option('--allow-private', 'allow private, loopback and link-local addresses (refused by default)')
    .option('--per-minute <n>', 'deliveries a minute at most (default ENDPOINT_PER_MINUTE)', nonNegativeInt)
    .option('--schema <file.json>', 'a JSON Schema every body sent here must match; others are refused back to the model', jsonSchemaFile)
    .action(
      action<{ employee: string; name: string; url: string; allowPrivate?: boolean; perMinute?: number; schema?: Record<string, unknown> }>(
        async (ctx, _args, opts) => {
          const { endpoint: created, secret } = await ctx.endpoints.add({
            employeeId: opts.employee,
            name: opts.name,
            url: opts.url,
            allowPrivate: opts.allowPrivate,
            perMinute: opts.perMinute,
            bodySchema: opts.schema,
          });
          return {
            json: { endpoint_id: created.id, name: created.name, url: created.url, secret },
            text: `${fields([
              ['endpoint', created.id],
              ['name', created.name],
              ['url', created.url],
              ['private addresses', created.allowPrivate ? 'allowed' : 'refused'],
              ['per minute', String(created.perMinute ?? `${ctx.config.ENDPOINT_PER_MINUTE} (default)`)],
              ['schema', created.bodySchema ? 'yes' : 'none'],
              ['signing secret', secret],
            ])}\n\nCopy the signing secret now: it will not be shown again. Receivers verify deliveries with it (Standard Webhooks).`,
          };
        },
      ),
    );

  withJson(endpoint.command('list'))
    .description("an employee's endpoints (never their secrets)")
    .requiredOption('--employee <employee-id>', 'employee id')
    .action(
      action<{ employee: string }>(async (ctx, _args, opts) => {
        const endpoints = await ctx.endpoints.list(opts.employee);
        return {
          json: {
            employee_id: opts.employee,
            endpoints: endpoints.map((e) => ({ endpoint_id: e.id, name: e.name, url: e.url, allow_private: e.allowPrivate, created_at: e.createdAt })),
          },
          text: endpoints.length
            ? table(
                ['endpoint', 'name', 'url', 'private'],
                endpoints.map((e) => [e.id, e.name, e.url, e.allowPrivate ? 'allowed' : 'refused']),
              )
            : 'No endpoints.',
        };
      }),
    );

  withJson(endpoint.command('encrypt-secrets'))
    .description(
      'seal signing secrets stored in plain text (from before SECRET_KEYS) and re-seal older keys’ with the current one; runs as the owner (DATABASE_URL)',
    )
    .option('--employee <employee-id>', 'only this employee’s endpoints')
    .action(
      action<{ employee?: string }>(async (ctx, _args, opts) => {
        const store = new EndpointStore(ctx.owner(), secretKeys(ctx.config));
        const { sealed, rotated, current } = await store.sealStoredSecrets(opts.employee);
        return {
          json: { sealed, rotated, already_current: current },
          text: `Sealed ${sealed} plain-text secret(s), re-sealed ${rotated} under the current key; ${current} already current.`,
        };
      }),
    );

  withJson(endpoint.command('remove').argument('<endpoint-id>'))
    .description('remove an endpoint; send_webhook can no longer deliver to it')
    .action(
      action(async (ctx, [id]) => {
        const removed = await ctx.endpoints.remove(id);
        return { json: { endpoint_id: removed.id, name: removed.name, removed: true }, text: `Removed endpoint ${removed.name} (${removed.id}).` };
      }),
    );
}
