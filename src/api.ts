import type { Server } from 'node:http';
import type { Connection } from '@temporalio/client';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import { loadConfigOrExit, publicUrl, type Config } from './config';
import { consoleRoutes } from './console/console';
import { ConsoleEvents } from './console/data';
import { createMailer } from './console/mailer';
import { SignInService } from './console/sign-in';
import { EventStatusReader } from './events/event-status';
import { createEventServices } from './events/services';
import { createApp } from './http/app';
import { codecEndpoint } from './http/routes/codec';
import type { Lifecycle } from './http/deps';
import { createServer } from './http/server';
import { parseTrustedProxies } from './net/client-ip';
import { exitWithSupervisor } from './shared/supervised-child';
import { createLogger, type Logger } from './observability/logger';
import { createApiMetrics } from './observability/metrics';
import { AccountStore } from './stores/accounts';
import { ApiKeyStore } from './stores/api-keys';
import { ConsoleSessionStore } from './stores/console-sessions';
import { EmployeeMemory } from './stores/employee-memory';
import { EmployeeStore } from './stores/employees';
import { ConversationStore } from './stores/conversations';
import { EventIntake } from './stores/intake';
import { EndpointStore } from './stores/endpoints';
import { Ledger } from './stores/ledger';
import { MessageStore } from './stores/messages';
import { appDatabaseUrl, assertApplicationRole, explainLoginRefusal } from './stores/postgres/app-role';
import { secretKeys } from './secrets/secret-box';
import { createSourceStore } from './sources/source-store';
import { assertSchemaCurrent } from './stores/postgres/migrate';
import { createPool } from './stores/postgres/pool';
import { createRedis } from './stores/redis/client';
import { AccountRateLimiter } from './stores/redis/rate-limiter';
import type { SourceStore } from './stores/sources';
import { TopUpStore } from './stores/top-ups';
import { UsageStore } from './stores/usage';
import { connectTemporal, temporalClient } from './temporal/connect';

const WINDOW_PRUNE_EVERY_MS = 60_000;
const CONVERSATION_RETENTION_MS = 7 * 24 * 3600 * 1000;

/** The clients the API talks through. */
export interface ApiClients {
  db: pg.Pool;
  redis: Redis;
  connection: Connection;
}

/** The HTTP app wired to its stores and to Temporal; shared by the entry point and the tests. */
export function buildApi(config: Config, { db, redis, connection }: ApiClients, logger: Logger, lifecycle?: Lifecycle) {
  const client = temporalClient(config, connection);
  const { runs, ingest, replayer, bulk } = createEventServices(config, { db, redis, client }, logger);
  const employees = new EmployeeStore(db);
  const keys = new ApiKeyStore(db);
  const sources = createSourceStore(db, secretKeys(config));
  const statusReader = new EventStatusReader(runs, new MessageStore(db), config.TEMPORAL_UI_URL, config.TEMPORAL_NAMESPACE);
  return createApp({
    keys,
    ingest,
    replayer,
    bulk,
    rateLimiter: new AccountRateLimiter(redis, config.RATE_LIMIT_PER_MINUTE),
    logger,
    bodyTimeoutMs: config.BODY_TIMEOUT_MS,
    logPayloads: config.LOG_PAYLOADS,
    statusReader,
    usage: new UsageStore(db),
    metrics: createApiMetrics(),
    codec: codecEndpoint(config),
    maxInFlight: config.MAX_IN_FLIGHT_REQUESTS,
    authFailures: { perMinute: config.AUTH_FAILURES_PER_MINUTE, trustedProxies: parseTrustedProxies(config.TRUST_PROXY) },
    readinessTimeoutMs: config.READINESS_TIMEOUT_MS,
    lifecycle,
    sources: {
      store: sources,
      accounts: new AccountStore(db),
      maxBodyBytes: config.SOURCE_MAX_BODY,
      bodyRetentionMs: config.SOURCE_BODY_RETENTION_MS,
      retryAfterSeconds: config.SOURCE_RETRY_AFTER_SECONDS,
    },
    console: buildConsole(config, { db, redis }, { keys, employees, statusReader, sources }, logger),
    readiness: [
      { name: 'database', check: async () => void (await db.query('SELECT 1')) },
      { name: 'redis', check: async () => void (await redis.ping()) },
      { name: 'temporal', check: async () => void (await connection.withDeadline(Date.now() + 2_000, () => connection.healthService.check({}))) },
    ],
  });
}

/** The console over the same stores and event status code as the API. */
function buildConsole(
  config: Config,
  { db, redis }: Pick<ApiClients, 'db' | 'redis'>,
  shared: { keys: ApiKeyStore; employees: EmployeeStore; statusReader: EventStatusReader; sources: SourceStore },
  logger: Logger,
) {
  const base = publicUrl(config);
  const sessions = new ConsoleSessionStore(db);
  const accounts = new AccountStore(db);
  const ledger = new Ledger(db);
  const signIn = new SignInService(redis, sessions, accounts, ledger, createMailer(config.SMTP_URL, config.SMTP_FROM, logger), {
    publicUrl: base,
    signupCredits: config.SIGNUP_CREDITS,
    limitPerEmail: config.SIGN_IN_LIMIT_PER_EMAIL,
    limitPerIp: config.SIGN_IN_LIMIT_PER_IP,
  });
  return consoleRoutes({
    publicUrl: base,
    sessionIdleMs: config.SESSION_IDLE_MS,
    sessionMaxMs: config.SESSION_MAX_MS,
    trustedProxies: parseTrustedProxies(config.TRUST_PROXY),
    signIn,
    sessions,
    accounts,
    ledger,
    topUps: new TopUpStore(db),
    usage: new UsageStore(db),
    events: new ConsoleEvents(new MessageStore(db), shared.statusReader),
    keys: shared.keys,
    employees: shared.employees,
    sources: shared.sources,
    sourceWindowMs: config.SOURCE_WINDOW_MS,
    endpoints: new EndpointStore(db, secretKeys(config)),
    memory: new EmployeeMemory(db, config.MEMORY_TURNS),
    logger,
  });
}

/** Connects, listens; `close()` stops listening, drains in-flight requests, then disconnects. */
export async function startApi(config: Config): Promise<{ server: Server; close: () => Promise<void> }> {
  const logger = createLogger(config, 'api');
  // A request waits for the database a bounded time, however slow it is: pool wait, then statement.
  const dbUrl = appDatabaseUrl(config);
  const db = createPool(dbUrl, {
    name: 'sistava-api',
    max: config.DATABASE_POOL_SIZE,
    failFast: true,
    statementTimeoutMs: config.API_STATEMENT_TIMEOUT_MS,
    connectionTimeoutMs: config.API_POOL_WAIT_MS,
  });
  // A refused start leaves no connection behind (a caller that handles the error keeps running).
  await (async () => {
    await assertSchemaCurrent(db);
    await assertApplicationRole(db);
  })().catch(async (err: unknown) => {
    await db.end();
    throw explainLoginRefusal(err, dbUrl);
  });
  const redis = createRedis(config.REDIS_URL, { failFast: true, name: 'sistava-api', commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS });
  // Lazy: the API starts even while Temporal is down, answers 502 meanwhile, and heals when it is back.
  const connection = await connectTemporal(config, { lazy: true });
  const lifecycle: Lifecycle = { draining: false };
  const app = buildApi(config, { db, redis, connection }, logger, lifecycle);
  // Expired Idempotency-Key windows answer nothing; deleting them is housekeeping, in small batches.
  // Conversations of events older than a week likewise: the history and the inbox keep what was said.
  const intake = new EventIntake(db);
  const conversations = new ConversationStore(db);
  const sources = createSourceStore(db, secretKeys(config));
  const pruning = setInterval(() => {
    const warn = (what: string) => (err: unknown) => logger.warn({ err: (err as Error).message }, `could not prune ${what}`);
    intake.pruneExpired().catch(warn('expired idempotency windows and kept payloads'));
    conversations.prune(CONVERSATION_RETENTION_MS).catch(warn('old event conversations'));
    sources.pruneBodies().catch(warn('source bodies past SOURCE_BODY_RETENTION_MS'));
  }, WINDOW_PRUNE_EVERY_MS).unref();
  const server = createServer(app, { timeoutMs: config.BODY_TIMEOUT_MS, logger }).listen(config.PORT, config.HOST);
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  const address = server.address();
  logger.info({ port: typeof address === 'object' && address ? address.port : config.PORT }, 'api listening');

  const close = async () => {
    // First not ready (load balancers stop sending) while still serving; then no new connections,
    // and the requests in flight get SHUTDOWN_DRAIN_MS; what is still open then is cut.
    lifecycle.draining = true;
    clearInterval(pruning);
    await new Promise((resolve) => setTimeout(resolve, config.SHUTDOWN_DELAY_MS));
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    let deadline: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (deadline = setTimeout(() => resolve('late'), config.SHUTDOWN_DRAIN_MS)));
    if ((await Promise.race([closed, late])) === 'late') {
      logger.warn({ drain_ms: config.SHUTDOWN_DRAIN_MS }, 'requests still in flight at the drain deadline; closing their connections');
      server.closeAllConnections();
      await closed;
    }
    clearTimeout(deadline);
    await connection.close().catch(() => undefined);
    redis.disconnect();
    await db.end();
  };
  return { server, close };
}

if (require.main === module) {
  const config = loadConfigOrExit();
  startApi(config).then(
    ({ close }) => {
      let stopping = false;
      const shutdown = () => {
        if (stopping) return;
        stopping = true;
        void close().then(() => process.exit(0));
      };
      process.once('SIGTERM', shutdown);
      process.once('SIGINT', shutdown);
      exitWithSupervisor(shutdown);
    },
    (err: unknown) => {
      process.stderr.write(`api failed to start: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
