import type { Command } from 'commander';
import { publicUrl, type Config } from '../config';
import { checkSecret, generateSourceSecret, parseHmacSettings, parseKind, SourceSettingsError, type HmacSettings } from '../sources/kinds';
import { checkTemplate } from '../sources/render';
import type { Source } from '../stores/sources';
import { duration, nonEmpty, positiveInt } from './arguments';
import { CliError, fields, table } from './output';
import { action, withJson } from './run';

interface AddOptions {
  employee: string;
  name: string;
  kind: string;
  secret?: string;
  window?: number;
  template?: string;
  preset?: string;
  header?: string;
  prefix?: string;
  encoding?: string;
  signed?: string;
  timestampHeader?: string;
  timestampPath?: string;
  tolerance?: number;
  idHeader?: string;
  labelHeader?: string;
  labelPath?: string;
}

const sourceUrl = (config: Config, id: string) => `${publicUrl(config)}/api/sources/${id}`;

/** A refused setting is a wrong command line (exit 2), with the store never touched. */
function settingsOf(opts: AddOptions): { kind: ReturnType<typeof parseKind>; settings?: HmacSettings; template?: string } {
  try {
    const kind = parseKind(opts.kind);
    const template = opts.template === undefined ? undefined : checkTemplate(opts.template);
    if (opts.secret !== undefined) checkSecret(kind, opts.secret);
    const hmacOnly = [
      opts.preset,
      opts.header,
      opts.prefix,
      opts.encoding,
      opts.signed,
      opts.timestampHeader,
      opts.timestampPath,
      opts.idHeader,
      opts.labelHeader,
      opts.labelPath,
    ];
    if (kind !== 'hmac') {
      if (hmacOnly.some((o) => o !== undefined)) throw new SourceSettingsError('--preset, --header and the other verifier options are for --kind hmac only.');
      return { kind, template };
    }
    const settings = parseHmacSettings({
      preset: opts.preset,
      header: opts.header,
      prefix: opts.prefix,
      encoding: opts.encoding as HmacSettings['encoding'] | undefined,
      signed: opts.signed as HmacSettings['signed'] | undefined,
      timestampHeader: opts.timestampHeader,
      timestampPath: opts.timestampPath,
      toleranceSeconds: opts.tolerance,
      idHeader: opts.idHeader,
      labelHeader: opts.labelHeader,
      labelPath: opts.labelPath,
    });
    return { kind, settings, template };
  } catch (err) {
    if (err instanceof SourceSettingsError) throw new CliError('INVALID_ARGUMENT', err.message, 2);
    throw err;
  }
}

const listed = (config: Config, s: Source) => ({
  source_id: s.id,
  name: s.name,
  kind: s.kind,
  url: sourceUrl(config, s.id),
  enabled: s.enabled,
  window_ms: s.windowMs,
  secrets: s.secretCount,
  template: s.template ?? null,
  last_delivery_at: s.lastDeliveryAt ?? null,
});

/** `source add|list|rotate-secret|disable|enable|remove`: senders' own signed webhooks that wake an employee. */
export function registerSourceCommands(program: Command): void {
  const source = program
    .command('source')
    .description("signed sources: a sender's own webhooks (GitHub, Stripe, Standard Webhooks, HMAC) that wake an employee");

  withJson(source.command('add'))
    .description('add a source; prints its URL and its secret once')
    .requiredOption('--employee <employee-id>', 'employee id')
    .requiredOption('--name <name>', 'a name for it', nonEmpty)
    .requiredOption('--kind <kind>', 'standard-webhooks | github | stripe | hmac')
    .option('--secret <secret>', "the sender's signing secret (generated when not given)")
    .option('--window <duration>', 'dedupe window of the delivery id, like 72h (default SOURCE_WINDOW_MS)', duration)
    .option('--template <template>', 'the text the employee reads, over the JSON body: {{issue.number}}')
    .option('--preset <preset>', 'hmac: shopify | linear | zendesk')
    .option('--header <name>', 'hmac: the signature header')
    .option('--prefix <prefix>', 'hmac: what precedes the signature (sha256=)')
    .option('--encoding <encoding>', 'hmac: hex | base64')
    .option('--signed <what>', 'hmac: body | ts+body | ts.body')
    .option('--timestamp-header <name>', 'hmac: the signed timestamp header')
    .option('--timestamp-path <path>', 'hmac: the signed timestamp in the JSON body')
    .option('--tolerance <seconds>', 'hmac: timestamp tolerance in seconds (default 300)', positiveInt)
    .option('--id-header <name>', "hmac: the sender's delivery id header (default: the body's sha256)")
    .option('--label-header <name>', 'hmac: the event label header')
    .option('--label-path <path>', 'hmac: the event label in the JSON body')
    .action(
      action<AddOptions>(async (ctx, _args, opts) => {
        const { kind, settings, template } = settingsOf(opts);
        const secret = opts.secret ?? generateSourceSecret(kind);
        const added = await ctx.sources.add({
          employeeId: opts.employee,
          name: opts.name,
          kind,
          secret,
          settings,
          template,
          windowMs: opts.window ?? ctx.config.SOURCE_WINDOW_MS,
        });
        const url = sourceUrl(ctx.config, added.id);
        return {
          json: { source_id: added.id, url, secret },
          text: `${fields([
            ['source', added.id],
            ['name', added.name],
            ['kind', added.kind],
            ['url', url],
            ['secret', secret],
          ])}\n\nCopy the secret now: it will not be shown again. Give the sender the URL and the secret.`,
        };
      }),
    );

  withJson(source.command('list'))
    .description("an employee's sources (never their secrets)")
    .requiredOption('--employee <employee-id>', 'employee id')
    .action(
      action<{ employee: string }>(async (ctx, _args, opts) => {
        const sources = await ctx.sources.list(opts.employee);
        return {
          json: { employee_id: opts.employee, sources: sources.map((s) => listed(ctx.config, s)) },
          text: sources.length
            ? table(
                ['source', 'name', 'kind', 'state', 'last delivery', 'url'],
                sources.map((s) => [s.id, s.name, s.kind, s.enabled ? 'on' : 'off', s.lastDeliveryAt ?? '-', sourceUrl(ctx.config, s.id)]),
              )
            : 'No sources.',
        };
      }),
    );

  withJson(source.command('rotate-secret').argument('<source-id>'))
    .description('a new secret; the previous one keeps verifying until --finish')
    .option('--secret <secret>', 'the new secret (generated when not given)')
    .option('--finish', 'end the rotation: only the newest secret verifies')
    .action(
      action<{ secret?: string; finish?: boolean }>(async (ctx, [id], opts) => {
        const current = await ctx.sources.get(id);
        if (!current) throw new CliError('SOURCE_NOT_FOUND', `No source with id ${id}.`);
        if (opts.finish && opts.secret === undefined) {
          const done = await ctx.sources.rotateSecret(id, undefined, true);
          return { json: { source_id: done.id, secrets: done.secretCount }, text: `Rotation finished for ${done.name}: one secret verifies.` };
        }
        if (opts.secret !== undefined) {
          try {
            checkSecret(current.kind, opts.secret);
          } catch (err) {
            if (err instanceof SourceSettingsError) throw new CliError('INVALID_ARGUMENT', err.message, 2);
            throw err;
          }
        }
        const secret = opts.secret ?? generateSourceSecret(current.kind);
        const rotated = await ctx.sources.rotateSecret(id, secret, Boolean(opts.finish));
        return {
          json: { source_id: rotated.id, secret, secrets: rotated.secretCount },
          text: `${fields([
            ['source', rotated.id],
            ['new secret', secret],
            ['secrets verifying', String(rotated.secretCount)],
          ])}\n\nCopy the secret now. Run rotate-secret --finish once the sender uses it.`,
        };
      }),
    );

  for (const [name, enabled] of [
    ['disable', false],
    ['enable', true],
  ] as const) {
    withJson(source.command(name).argument('<source-id>'))
      .description(enabled ? 'accept deliveries again' : 'answer deliveries 503 with Retry-After (senders that retry do)')
      .action(
        action(async (ctx, [id]) => {
          const changed = await ctx.sources.setEnabled(id, enabled);
          return { json: { source_id: changed.id, enabled: changed.enabled }, text: `Source ${changed.name} is ${enabled ? 'on' : 'off'}.` };
        }),
      );
  }

  withJson(source.command('remove').argument('<source-id>'))
    .description('remove a source: its URL answers 404')
    .action(
      action(async (ctx, [id]) => {
        const removed = await ctx.sources.remove(id);
        return { json: { source_id: removed.id, name: removed.name, removed: true }, text: `Removed source ${removed.name} (${removed.id}).` };
      }),
    );
}
