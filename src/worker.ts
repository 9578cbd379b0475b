import { NativeConnection } from '@temporalio/worker';
import { loadConfigOrExit, temporalAddress } from './config';
import { createWorker } from './create-worker';
import { createLogger } from './logger';
import { installTemporalRuntime } from './temporal-runtime';
import { createRedis } from './redis';

/** Runs one worker until SIGINT/SIGTERM; the SDK then drains running activities (shutdownGraceTime). */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const logger = createLogger(config, 'worker');
  installTemporalRuntime(logger, 'WARN', config.WORKER_METRICS_ADDRESS);
  const redis = createRedis(config.REDIS_URL, { name: 'sistava-worker' });
  const connection = await NativeConnection.connect({ address: temporalAddress(config) });
  const worker = await createWorker(config, connection, redis);
  logger.info(
    { task_queue: config.TEMPORAL_TASK_QUEUE, runtime: config.OPENAI_BASE_URL ? `model ${config.OPENAI_MODEL} at ${config.OPENAI_BASE_URL}` : 'inbox (no model configured)' },
    'worker polling',
  );
  await worker.run();
  await connection.close();
  redis.disconnect();
  logger.info('worker stopped');
}

main().catch((err) => {
  process.stderr.write(`worker failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
