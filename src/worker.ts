import { Client } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { loadConfigOrExit, temporalAddress } from './config';
import { createLogger } from './observability/logger';
import { assertSchemaCurrent } from './stores/postgres/migrate';
import { createPool } from './stores/postgres/pool';
import { createRedis } from './stores/redis/client';
import { createWorker } from './temporal/create-worker';
import { installTemporalRuntime } from './temporal/runtime';
import { temporalDataConverter } from './temporal/codec';
import { ensureReconcileSchedule } from './temporal/schedules';

/** Runs one worker until SIGINT/SIGTERM; the SDK then drains running activities (shutdownGraceTime). */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const logger = createLogger(config, 'worker');
  installTemporalRuntime(logger, 'WARN', config.WORKER_METRICS_ADDRESS);
  const db = createPool(config.DATABASE_URL, { name: 'sistava-worker', max: config.DATABASE_POOL_SIZE });
  await assertSchemaCurrent(db);
  const connection = await NativeConnection.connect({ address: temporalAddress(config) });
  // Bulk replays count against the account's rate limit, kept in Redis.
  const redis = createRedis(config.REDIS_URL, { name: 'sistava-worker' });
  const worker = await createWorker(config, connection, db, logger, {}, redis);
  const schedule = await ensureReconcileSchedule(
    new Client({ connection, namespace: config.TEMPORAL_NAMESPACE, dataConverter: temporalDataConverter(config) }),
    {
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      every: config.RECONCILE_INTERVAL,
    },
  );
  logger.info(
    {
      task_queue: config.TEMPORAL_TASK_QUEUE,
      runtime: config.OPENAI_BASE_URL ? `model ${config.OPENAI_MODEL} at ${config.OPENAI_BASE_URL}` : 'inbox (no model configured)',
      reconcile_schedule: `${schedule}, every ${config.RECONCILE_INTERVAL}`,
    },
    'worker polling',
  );
  await worker.run();
  await connection.close();
  redis.disconnect();
  await db.end();
  logger.info('worker stopped');
}

main().catch((err: unknown) => {
  process.stderr.write(`worker failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
