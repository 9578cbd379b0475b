import type { Server } from 'node:http';
import { Client, Connection } from '@temporalio/client';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import { loadConfigOrExit, temporalAddress, type Config } from './config';
import { EventStatusReader } from './events/event-status';
import { createEventServices } from './events/services';
import { createApp } from './http/app';
import { codecEndpoint } from './http/routes/codec';
import { createServer } from './http/server';
import { createLogger, type Logger } from './observability/logger';
import { createApiMetrics } from './observability/metrics';
import { ApiKeyStore } from './stores/api-keys';
import { EventIntake } from './stores/intake';
import { MessageStore } from './stores/messages';
import { assertSchemaCurrent } from './stores/postgres/migrate';
import { createPool } from './stores/postgres/pool';
import { createRedis } from './stores/redis/client';
import { AccountRateLimiter } from './stores/redis/rate-limiter';
import { UsageStore } from './stores/usage';
import { temporalDataConverter } from './temporal/codec';

const WINDOW_PRUNE_EVERY_MS = 60_000;

/** The clients the API talks through. */
export interface ApiClients {
  db: pg.Pool;
  redis: Redis;
  connection: Connection;
}

/** The HTTP app wired to its stores and to Temporal; shared by the entry point and the tests. */
export function buildApi(config: Config, { db, redis, connection }: ApiClients, logger: Logger) {
  const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE, dataConverter: temporalDataConverter(config) });
  const { runs, ingest, replayer, bulk } = createEventServices(config, { db, redis, client }, logger);
  return createApp({
    keys: new ApiKeyStore(db),
    ingest,
    replayer,
    bulk,
    rateLimiter: new AccountRateLimiter(redis, config.RATE_LIMIT_PER_MINUTE),
    logger,
    bodyTimeoutMs: config.BODY_TIMEOUT_MS,
    logPayloads: config.LOG_PAYLOADS,
    statusReader: new EventStatusReader(runs, new MessageStore(db), config.TEMPORAL_UI_URL, config.TEMPORAL_NAMESPACE),
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
  const db = createPool(config.DATABASE_URL, { name: 'sistava-api', max: config.DATABASE_POOL_SIZE, failFast: true });
  // A refused start leaves no connection behind (a caller that handles the error keeps running).
  await assertSchemaCurrent(db).catch(async (err: unknown) => {
    await db.end();
    throw err;
  });
  const redis = createRedis(config.REDIS_URL, { failFast: true, name: 'sistava-api' });
  // Lazy: the API starts even while Temporal is down, answers 502 meanwhile, and heals when it is back.
  const connection = Connection.lazy({ address: temporalAddress(config) });
  const app = buildApi(config, { db, redis, connection }, logger);
  // Expired Idempotency-Key windows answer nothing; deleting them is housekeeping, in small batches.
  const intake = new EventIntake(db);
  const pruning = setInterval(() => {
    intake
      .pruneExpired()
      .catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'could not prune expired idempotency windows and kept payloads'));
  }, WINDOW_PRUNE_EVERY_MS).unref();
  const server = createServer(app, { timeoutMs: config.BODY_TIMEOUT_MS, logger }).listen(config.PORT, config.HOST);
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  const address = server.address();
  logger.info({ port: typeof address === 'object' && address ? address.port : config.PORT }, 'api listening');

  const close = async () => {
    clearInterval(pruning);
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
