import type { Worker } from '@temporalio/worker';
import { loadConfigOrExit } from './config';
import { createLogger } from './observability/logger';
import { appDatabaseUrl, assertApplicationRole, explainLoginRefusal } from './stores/postgres/app-role';
import { assertSchemaCurrent } from './stores/postgres/migrate';
import { createPool, WORKER_STATEMENT_TIMEOUT_MS } from './stores/postgres/pool';
import { exitWithSupervisor } from './shared/supervised-child';
import { createRedis } from './stores/redis/client';
import { createWorker } from './temporal/create-worker';
import { installTemporalRuntime } from './temporal/runtime';
import { temporalClient } from './temporal/connect';
import { connectTemporalNative } from './temporal/connect-native';
import { ensureReconcileSchedule } from './temporal/schedules';

/** Runs one worker until SIGINT/SIGTERM; the SDK then drains running activities (shutdownGraceTime). */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const running: { worker?: Worker } = {};
  // Its supervisor gone: drain like on SIGTERM once running, else just leave.
  exitWithSupervisor(() => (running.worker ? running.worker.shutdown() : process.exit(0)));
  const logger = createLogger(config, 'worker');
  installTemporalRuntime(logger, 'WARN', config.WORKER_METRICS_ADDRESS);
  // Statements end before the local activities running them time out: see WORKER_STATEMENT_TIMEOUT_MS.
  const dbUrl = appDatabaseUrl(config);
  const db = createPool(dbUrl, { name: 'sistava-worker', max: config.DATABASE_POOL_SIZE, statementTimeoutMs: WORKER_STATEMENT_TIMEOUT_MS });
  try {
    await assertSchemaCurrent(db);
    await assertApplicationRole(db);
  } catch (err) {
    throw explainLoginRefusal(err, dbUrl);
  }
  const connection = await connectTemporalNative(config);
  // Bulk replays count against the account's rate limit, kept in Redis.
  const redis = createRedis(config.REDIS_URL, { name: 'sistava-worker' });
  const worker = await createWorker(config, connection, db, logger, {}, redis);
  running.worker = worker;
  const schedule = config.RECONCILE_SCHEDULE
    ? await ensureReconcileSchedule(temporalClient(config, connection), { taskQueue: config.TEMPORAL_TASK_QUEUE, every: config.RECONCILE_INTERVAL })
    : 'left to another process';
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
