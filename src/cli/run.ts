import type { Command } from 'commander';
import type { Redis } from 'ioredis';
import { Client, Connection } from '@temporalio/client';
import { parseConfig, temporalAddress, type Config } from '../config';
import { connectRedis } from '../redis';
import { AccountStore, NotFoundError } from '../stores/account-store';
import { EmployeeMemory } from '../stores/employee-memory';
import { Ledger } from '../stores/ledger';
import { CliError, printError, printResult, type CommandResult } from './output';

/** The stores a command works with, on the same Redis as the running service. */
export interface CliContext {
  accounts: AccountStore;
  ledger: Ledger;
  memory: EmployeeMemory;
  config: Config;
  /** A Temporal client on the service's namespace, connected on first use (only some commands need one). */
  temporal(): Promise<Client>;
}

/** How long a command waits for Temporal to answer the first connect. */
const TEMPORAL_CONNECT_TIMEOUT_MS = 5_000;

type Handler<O> = (ctx: CliContext, args: string[], opts: O) => Promise<CommandResult>;

/** Adds `--json` to a leaf command: every command answers in text or in exactly one JSON object. */
export function withJson(command: Command): Command {
  return command.option('--json', 'print exactly one JSON object on stdout');
}

/**
 * Wraps a command handler for commander: connects to Redis, runs, prints the result or the error,
 * and always disconnects, so the process exits on its own with `process.exitCode` set.
 */
export function action<O extends object = object>(handler: Handler<O>) {
  return async (...actionArgs: unknown[]): Promise<void> => {
    const command = actionArgs[actionArgs.length - 1] as Command;
    const opts = command.opts<O>();
    const json = Boolean((opts as { json?: boolean }).json);
    const config = loadConfig(json);
    if (!config) return;
    const redis = await connect(config, json);
    let connection: Promise<Connection> | undefined;
    try {
      const ctx: CliContext = {
        accounts: new AccountStore(redis),
        ledger: new Ledger(redis),
        memory: new EmployeeMemory(redis, config.MEMORY_TURNS),
        config,
        async temporal() {
          connection ??= connectTemporal(config);
          return new Client({ connection: await connection, namespace: config.TEMPORAL_NAMESPACE });
        },
      };
      const result = await handler(ctx, command.processedArgs as string[], opts);
      printResult(result, json);
      if (result.exitCode) process.exitCode = result.exitCode;
    } catch (err) {
      const cliError = toCliError(err);
      printError(cliError, json);
      process.exitCode = cliError.exitCode;
    } finally {
      redis.disconnect();
      await connection?.then((c) => c.close()).catch(() => undefined);
    }
  };
}

/**
 * The service's own schema (parseConfig is what loadConfigOrExit wraps), but a bad environment is
 * reported like any other error, so `--json` callers still get their one JSON object.
 */
function loadConfig(json: boolean): Config | undefined {
  try {
    return parseConfig();
  } catch (err) {
    const [summary, ...issues] = (err as Error).message.split('\n').map((line) => line.trim());
    printError(new CliError('INVALID_CONFIG', `${summary} ${issues.join('; ')}`, 2), json);
    process.exitCode = 2;
    return undefined;
  }
}

/**
 * A failed first connect leaves connectRedis's client reconnecting forever (its retry strategy is
 * meant for long-running services), and we never get hold of it to disconnect: so this one path
 * exits explicitly, once the error is written.
 */
async function connect(config: Config, json: boolean): Promise<Redis> {
  try {
    return await connectRedis(config.REDIS_URL, { failFast: true, name: 'sistava-cli' });
  } catch (err) {
    const where = new URL(config.REDIS_URL).host;
    printError(new CliError('REDIS_UNAVAILABLE', `Could not connect to Redis at ${where}: ${(err as Error).message.replace(/\.$/, '')}. Check REDIS_URL.`), json);
    process.stdout.write('', () => process.exit(1));
    return new Promise<never>(() => undefined);
  }
}

async function connectTemporal(config: Config): Promise<Connection> {
  const address = temporalAddress(config);
  try {
    return await Connection.connect({ address, connectTimeout: TEMPORAL_CONNECT_TIMEOUT_MS });
  } catch (err) {
    throw new CliError('TEMPORAL_UNAVAILABLE', `Could not connect to Temporal at ${address}: ${(err as Error).message.replace(/\.$/, '')}. Check TEMPORAL_ADDRESS.`);
  }
}

/** Known store failures become coded errors; anything else keeps its message under a generic code. */
function toCliError(err: unknown): CliError {
  if (err instanceof CliError) return err;
  if (err instanceof NotFoundError) {
    return new CliError(`${err.what.toUpperCase()}_NOT_FOUND`, `No ${err.what} with id ${err.id}.`);
  }
  return new CliError('FAILED', (err as Error)?.message ?? String(err));
}
