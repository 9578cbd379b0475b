import { parseArgs } from 'node:util';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { parseConfig } from '../src/config';
import { connectTemporalNative } from '../src/temporal/connect-native';
import type { CeilingActivities } from './ceiling-workflows';

/**
 * Child process of `npm run bench`: a worker with default options, like the real one, running
 * the ceiling workflows from a prebuilt bundle until SIGTERM.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { address: { type: 'string' }, 'task-queue': { type: 'string' }, bundle: { type: 'string' } },
  });
  if (!values.address || !values['task-queue'] || !values.bundle) throw new Error('usage: ceiling-worker --address A --task-queue Q --bundle FILE');
  Runtime.install({ logger: new DefaultLogger('WARN') });
  // Through the service's own connection builder, so TEMPORAL_TLS_* and TEMPORAL_API_KEY apply here too.
  const connection = await connectTemporalNative(parseConfig({ ...process.env, TEMPORAL_ADDRESS: values.address }));
  const activities: CeilingActivities = { noop: async () => undefined };
  const worker = await Worker.create({
    connection,
    taskQueue: values['task-queue'],
    workflowBundle: { codePath: values.bundle },
    activities,
  });
  await worker.run();
  await connection.close();
}

main().catch((err) => {
  process.stderr.write(`ceiling worker failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
