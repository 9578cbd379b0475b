import type { Server } from 'node:http';
import type { Connection } from '@temporalio/client';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import { loadConfigOrExit, type Config } from './config';
import { EventStatusReader } from './events/event-status';
import { EventIngest } from './events/ingest';
import { createApp } from './http/app';
import { codecEndpoint } from './http/routes/codec';
import { createServer } from './http/server';
import { createLogger, type Logger } from './observability/logger';
import { createApiMetrics } from './observability/metrics';
import { ApiKeyStore } from './stores/api-keys';
import { EmployeeStore } from './stores/employees';
import { Ledger } from './stores/ledger';
import { MessageStore } from './stores/messages';
import { appDatabaseUrl, assertApplicationRole, explainLoginRefusal } from './stores/postgres/app-role';
import { assertSchemaCurrent } from './stores/postgres/migrate';
import { createPool } from './stores/postgres/pool';
import { createRedis } from './stores/redis/client';
import { IdempotencyCache } from './stores/redis/idempotency-cache';
import { AccountRateLimiter } from './stores/redis/rate-limiter';
import { UsageStore } from './stores/usage';
import { connectTemporal, temporalClient } from './temporal/connect';

/** The clients the API talks through. */
export interface ApiClients {
  db: pg.Pool;
  redis: Redis;
  connection: Connection;
}

/** The HTTP app wired to its stores and to Temporal; shared by the entry point and the tests. */
export function buildApi(config: Config, { db, redis, connection }: ApiClients, logger: Logger) {
  const client = temporalClient(config, connection);
  const ingest = new EventIngest(
    client,
    connection,
    new IdempotencyCache(redis),
    new Ledger(db),
    {
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      idempotencyWindowMs: config.IDEMPOTENCY_WINDOW_MS,
      startTimeoutMs: config.TEMPORAL_START_TIMEOUT_MS,
      reserveCreditsPerEvent: config.RESERVE_CREDITS_PER_EVENT,
    },
    logger,
  );
  return createApp({
    keys: new ApiKeyStore(db),
    employees: new EmployeeStore(db),
    ingest,
    rateLimiter: new AccountRateLimiter(redis, config.RATE_LIMIT_PER_MINUTE),
    logger,
    bodyTimeoutMs: config.BODY_TIMEOUT_MS,
    logPayloads: config.LOG_PAYLOADS,
    statusReader: new EventStatusReader(client, connection, new MessageStore(db), config.TEMPORAL_UI_URL, config.TEMPORAL_NAMESPACE),
    usage: new UsageStore(db),
    metrics: createApiMetrics(),
    codec: codecEndpoint(config),
    readiness: [
      { name: 'database', check: async () => void (await db.query('SELECT 1')) },
      { name: 'redis', check: async () => void (await redis.ping()) },
      { name: 'temporal', check: async () => void (await connection.withDeadline(Date.now() + 2_000, () => connection.healthService.check({}))) },
    ],
  });
}

/** Connects, listens; `close()` stops listening, drains in-flight requests, then disconnects. */
export async function startApi(config: Config): Promise<{ server: Server; close: () => Promise<void> }> {
  const logger = createLogger(config, 'api');
  const dbUrl = appDatabaseUrl(config);
  const db = createPool(dbUrl, { name: 'sistava-api', max: config.DATABASE_POOL_SIZE, failFast: true });
  // A refused start leaves no connection behind (a caller that handles the error keeps running).
  await (async () => {
    await assertSchemaCurrent(db);
    await assertApplicationRole(db);
  })().catch(async (err: unknown) => {
    await db.end();
    throw explainLoginRefusal(err, dbUrl);
  });
  const redis = createRedis(config.REDIS_URL, { failFast: true, name: 'sistava-api' });
  // Lazy: the API starts even while Temporal is down, answers 502 meanwhile, and heals when it is back.
  const connection = await connectTemporal(config, { lazy: true });
  const app = buildApi(config, { db, redis, connection }, logger);
  const server = createServer(app, { timeoutMs: config.BODY_TIMEOUT_MS, logger }).listen(config.PORT, config.HOST);
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  const address = server.address();
  logger.info({ port: typeof address === 'object' && address ? address.port : config.PORT }, 'api listening');

  const close = async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await connection.close().catch(() => undefined);
    redis.disconnect();
    await db.end();
  };
  return { server, close };
}

if (require.main === module) {
  const config = loadConfigOrExit();
  startApi(config).then(
    ({ server, close }) => {
      const shutdown = () => {
        // Stop accepting, let requests in flight finish, then exit.
        server.closeIdleConnections();
        void close().then(() => process.exit(0));
      };
      process.once('SIGTERM', shutdown);
      process.once('SIGINT', shutdown);
    },
    (err: unknown) => {
      process.stderr.write(`api failed to start: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
