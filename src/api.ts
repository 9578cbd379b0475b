import { Client, Connection } from '@temporalio/client';
import { loadConfigOrExit, temporalAddress, type Config } from './config';
import { createApp, createServer } from './http/app';
import { AccountRateLimiter } from './http/rate-limit';
import { EventIngest } from './ingest';
import { createLogger } from './logger';
import { createRedis } from './redis';
import { AccountStore } from './stores/account-store';
import { Ledger } from './stores/ledger';
import { EventStatusReader } from './event-status';
import { createApiMetrics } from './metrics';
import type { Server } from 'node:http';
import type { Redis } from 'ioredis';
import type { Logger } from './logger';

/** The HTTP app wired to its stores and to Temporal; shared by the entry point and the tests. */
export function buildApi(config: Config, redis: Redis, connection: Connection, logger: Logger) {
  const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  const accounts = new AccountStore(redis);
  const ledger = new Ledger(redis);
  const ingest = new EventIngest(
    client,
    connection,
    redis,
    ledger,
    {
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      idempotencyWindowMs: config.IDEMPOTENCY_WINDOW_MS,
      startTimeoutMs: config.TEMPORAL_START_TIMEOUT_MS,
      reserveCreditsPerEvent: config.RESERVE_CREDITS_PER_EVENT,
    },
    logger,
  );
  const statusReader = new EventStatusReader(client, connection, redis, ledger, config.TEMPORAL_UI_URL, config.TEMPORAL_NAMESPACE);
  return createApp({
    accounts,
    ingest,
    rateLimiter: new AccountRateLimiter(redis, config.RATE_LIMIT_PER_MINUTE),
    logger,
    bodyTimeoutMs: config.BODY_TIMEOUT_MS,
    logPayloads: config.LOG_PAYLOADS,
    statusReader,
    ledger,
    metrics: createApiMetrics(),
    ready: async () => {
      await redis.ping();
      await connection.withDeadline(Date.now() + 2_000, () => connection.healthService.check({}));
    },
  });
}

/** Connects, listens; `close()` stops listening, drains in-flight requests, then disconnects. */
export async function startApi(config: Config): Promise<{ server: Server; close: () => Promise<void> }> {
  const logger = createLogger(config, 'api');
  const redis = createRedis(config.REDIS_URL, { failFast: true, name: 'sistava-api' });
  // Lazy: the API starts even while Temporal is down, answers 502 meanwhile, and heals when it is back.
  const connection = Connection.lazy({ address: temporalAddress(config) });
  const app = buildApi(config, redis, connection, logger);
  const server = createServer(app, { timeoutMs: config.BODY_TIMEOUT_MS, logger }).listen(config.PORT, config.HOST);
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  const address = server.address();
  logger.info({ port: typeof address === 'object' && address ? address.port : config.PORT }, 'api listening');

  const close = async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await connection.close().catch(() => undefined);
    redis.disconnect();
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
        close().then(() => process.exit(0));
      };
      process.once('SIGTERM', shutdown);
      process.once('SIGINT', shutdown);
    },
    (err) => {
      process.stderr.write(`api failed to start: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
