import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { createEventServices } from '../events/services';
import { createLogger } from '../observability/logger';
import { NotFoundError } from '../stores/accounts';
import { MessageStore } from '../stores/messages';
import { connectRedis } from '../stores/redis/client';
import type { FailedRun } from '../temporal/event-runs';
import { positiveInt } from './arguments';
import { fields, table, truncate } from './output';
import { action, withJson, type CliContext } from './run';

const ERROR_WIDTH = 60;

/** `event replay|list`: the same replay and dead-letter view as the API, for operators. */
export function registerEventCommands(program: Command): void {
  const event = program.command('event').description('replay events and list failed ones (the dead-letter view)');

  withJson(event.command('replay').argument('<message-id>'))
    .description('run an event again as a new event (its own message id and charge; replay_of names the first original)')
    .option('--payload <text>', 'a corrected payload (default: the original one, kept for REPLAY_RETENTION)')
    .action(
      action<{ payload?: string }>(async (ctx, [messageId], opts) => {
        const accountId = await new MessageStore(ctx.db).accountOf(messageId);
        if (!accountId) throw new NotFoundError('message', messageId);
        const result = await withServices(ctx, (s) =>
          s.replayer.replay({ accountId, messageId: messageId.toLowerCase(), payload: opts.payload, requestId: `cli-${randomUUID()}` }),
        );
        return {
          json: { message_id: result.messageId, employee_id: result.employeeId, replay_of: result.replayOf, status: result.status },
          text: fields([
            ['message', result.messageId],
            ['replay of', result.replayOf],
            ['employee', result.employeeId],
            ['status', result.status],
          ]),
        };
      }),
    );

  withJson(event.command('list'))
    .description("list an account's failed events, most recently failed first")
    .option('--account <account-id>', "one account's (default: every account's)")
    .requiredOption('--status <status>', 'failed (the only status listed)', failedOnly)
    .option('--since <time>', 'only events that failed at or after this ISO time', isoTime)
    .option('--limit <n>', 'events to show', positiveInt, 50)
    .action(
      action<{ account?: string; since?: Date; limit: number }>(async (ctx, _args, opts) => {
        const runs: FailedRun[] = [];
        await withServices(ctx, async (s) => {
          let cursor: Uint8Array | undefined;
          do {
            const page = await s.replayer.failed(opts.account, { since: opts.since, cursor, limit: Math.min(100, opts.limit - runs.length) });
            runs.push(...page.runs);
            cursor = page.next;
          } while (cursor && runs.length < opts.limit);
        });
        return {
          json: {
            events: runs.map((r) => ({
              account_id: r.accountId,
              message_id: r.messageId,
              employee_id: r.employeeId,
              error: { type: r.error.type ?? null, message: r.error.message },
              attempts: r.attempts,
              failed_at: r.failedAt?.toISOString() ?? null,
            })),
          },
          text:
            runs.length === 0
              ? 'No failed events.'
              : table(
                  ['failed at', 'message', 'error', 'attempts'],
                  runs.map((r) => [
                    r.failedAt?.toISOString() ?? '',
                    r.messageId,
                    truncate(`${r.error.type ?? 'error'}: ${r.error.message}`, ERROR_WIDTH),
                    String(r.attempts),
                  ]),
                ),
        };
      }),
    );
}

/** The event services over the CLI's database and Temporal client, and a Redis of their own for the call. */
async function withServices<T>(ctx: CliContext, work: (services: ReturnType<typeof createEventServices>) => Promise<T>): Promise<T> {
  const redis = await connectRedis(ctx.config.REDIS_URL, { failFast: true });
  try {
    return await work(
      createEventServices(ctx.config, { db: ctx.db, redis, client: await ctx.temporal() }, createLogger({ ...ctx.config, LOG_LEVEL: 'silent' }, 'cli')),
    );
  } finally {
    redis.disconnect();
  }
}

function failedOnly(value: string): 'failed' {
  if (value !== 'failed') throw new InvalidArgumentError(`Only failed events are listed (the dead-letter view), got "${value}".`);
  return 'failed';
}

function isoTime(value: string): Date {
  const at = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(value) || Number.isNaN(at.getTime()))
    throw new InvalidArgumentError(`Expected an ISO time like 2026-12-06T14:00:00Z, got "${value}".`);
  return at;
}
