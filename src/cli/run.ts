import type { Command } from 'commander';
import type { Client, Connection } from '@temporalio/client';
import type pg from 'pg';
import { parseConfig, temporalAddress, type Config } from '../config';
import { DomainError } from '../events/errors';
import { AccountStore, NotFoundError } from '../stores/accounts';
import { ApiKeyStore } from '../stores/api-keys';
import { ConsoleSessionStore } from '../stores/console-sessions';
import { EmployeeMemory } from '../stores/employee-memory';
import { EmployeeStore } from '../stores/employees';
import { EndpointExistsError, EndpointStore } from '../stores/endpoints';
import { SecretKeysMissingError, secretKeys } from '../secrets/secret-box';
import { Ledger, TopUpReferenceConflictError } from '../stores/ledger';
import { appDatabaseUrl } from '../stores/postgres/app-role';
import { createPool } from '../stores/postgres/pool';
import { ReconcileRunStore } from '../stores/reconcile-runs';
import { createSourceStore } from '../sources/source-store';
import { SourceExistsError, type SourceStore } from '../stores/sources';
import { UsageStore } from '../stores/usage';
import { connectTemporal as connectFromConfig, temporalClient } from '../temporal/connect';
import { CliError, printError, printResult, type CommandResult } from './output';

/** The stores a command works with, on the same database as the running service. */
export interface CliContext {
  accounts: AccountStore;
  employees: EmployeeStore;
  endpoints: EndpointStore;
  /** Signed sources (built where the API builds them: createSourceStore). */
  sources: SourceStore;
  keys: ApiKeyStore;
  /** The console's sign-in links (account sign-in-link). */
  sessions: ConsoleSessionStore;
  ledger: Ledger;
  usage: UsageStore;
  memory: EmployeeMemory;
  runs: ReconcileRunStore;
  /** The pool the stores share, for commands that build services over it. */
  db: pg.Pool;
  config: Config;
  /** A Temporal client on the service's namespace, connected on first use (only some commands need one). */
  temporal(): Promise<Client>;
  /**
   * A pool as the tables' owner (DATABASE_URL), for the few administrative commands that change what
   * the application role may not (re-sealing stored secrets). Opened on first use.
   */
  owner(): pg.Pool;
}

/** How long a command waits for Temporal to answer the first connect. */
const TEMPORAL_CONNECT_TIMEOUT_MS = 5_000;

type Handler<O> = (ctx: CliContext, args: string[], opts: O) => Promise<CommandResult>;

/** Adds `--json` to a leaf command: every command answers in text or in exactly one JSON object. */
export function withJson(command: Command): Command {
  return command.option('--json', 'print exactly one JSON object on stdout');
}

/**
 * Wraps a command handler for commander: connects to the database, runs, prints the result or the error,
 * and always disconnects, so the process exits on its own with `process.exitCode` set.
 */
export function action<O extends object = object>(handler: Handler<O>) {
  return async (...actionArgs: unknown[]): Promise<void> => {
    const command = actionArgs[actionArgs.length - 1] as Command;
    const opts = command.opts<O>();
    const json = Boolean((opts as { json?: boolean }).json);
    const config = loadConfig(json);
    if (!config) return;
    const db = await connect(config, json);
    if (!db) return;
    let connection: Promise<Connection> | undefined;
    let ownerDb: pg.Pool | undefined;
    try {
      const ctx: CliContext = {
        accounts: new AccountStore(db),
        employees: new EmployeeStore(db),
        endpoints: new EndpointStore(db, secretKeys(config)),
        sources: createSourceStore(db, secretKeys(config)),
        keys: new ApiKeyStore(db),
        sessions: new ConsoleSessionStore(db),
        ledger: new Ledger(db),
        usage: new UsageStore(db),
        memory: new EmployeeMemory(db, config.MEMORY_TURNS),
        runs: new ReconcileRunStore(db),
        db,
        config,
        async temporal() {
          connection ??= connectTemporal(config);
          return temporalClient(config, await connection);
        },
        owner() {
          ownerDb ??= createPool(config.DATABASE_URL, { name: 'sistava-cli-owner', max: 1, failFast: true });
          return ownerDb;
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
      await db.end();
      await ownerDb?.end();
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

/** The pool, once the database answered; undefined (error printed, exit code set) when it does not. */
async function connect(config: Config, json: boolean): Promise<pg.Pool | undefined> {
  let url: string;
  try {
    url = appDatabaseUrl(config);
  } catch (err) {
    printError(new CliError('DATABASE_ROLE_MISSING', (err as Error).message), json);
    process.exitCode = 1;
    return undefined;
  }
  // Fails fast when the database is down, but lets `credits verify` read a million postings (about 2 s here).
  // The application role, like the service: day-to-day commands need nothing more.
  const db = createPool(url, { name: 'sistava-cli', max: 2, failFast: true, statementTimeoutMs: 120_000 });
  try {
    await db.query('SELECT 1');
    return db;
  } catch (err) {
    await db.end().catch(() => undefined);
    const where = new URL(url);
    printError(
      new CliError(
        'DATABASE_UNAVAILABLE',
        `Could not connect to PostgreSQL at ${where.host} as ${decodeURIComponent(where.username)}: ${(err as Error).message.replace(/\.$/, '')}. ` +
          'Check DATABASE_URL and APP_DATABASE_URL (or run `npm run migrate`, which creates the application role).',
      ),
      json,
    );
    process.exitCode = 1;
    return undefined;
  }
}

async function connectTemporal(config: Config): Promise<Connection> {
  const address = temporalAddress(config);
  try {
    return await connectFromConfig(config, { connectTimeoutMs: TEMPORAL_CONNECT_TIMEOUT_MS });
  } catch (err) {
    throw new CliError(
      'TEMPORAL_UNAVAILABLE',
      `Could not connect to Temporal at ${address}: ${(err as Error).message.replace(/\.$/, '')}. Check TEMPORAL_ADDRESS.`,
    );
  }
}

/** Known store failures become coded errors; anything else keeps its message under a generic code. */
function toCliError(err: unknown): CliError {
  // An uncaught database error: no row changed, and the message names what PostgreSQL refused.
  if (err instanceof CliError) return err;
  if (err instanceof SecretKeysMissingError) return new CliError('SECRET_KEYS_MISSING', err.message);
  if (err instanceof TopUpReferenceConflictError) return new CliError('REFERENCE_CONFLICT', err.message);
  // A replay's outcome (REPLAY_EXPIRED, EVENT_RUNNING, INSUFFICIENT_CREDITS, …) keeps its code.
  if (err instanceof DomainError) return new CliError(err.code, err.message);
  if (err instanceof EndpointExistsError) return new CliError('ENDPOINT_EXISTS', `${err.message}; remove it first or choose another name.`);
  if (err instanceof SourceExistsError) return new CliError('SOURCE_EXISTS', `${err.message}; remove it first or choose another name.`);
  if (err instanceof NotFoundError) {
    return new CliError(`${err.what.toUpperCase()}_NOT_FOUND`, `No ${err.what} with id ${err.id}.`);
  }
  return new CliError('FAILED', err instanceof Error ? err.message : String(err));
}
