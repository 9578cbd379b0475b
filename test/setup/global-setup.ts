import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { freePort, makeRunDir, startPostgresServer, startRedisServer, startTemporalDevServer } from '../../src/dev/services';
import { quietBundlerLogger } from '../../src/temporal/quiet-bundler-logger';
import { findTemporalCli } from '../../src/dev/temporal-cli';
import { ensureDevSecretKeys } from '../../src/secrets/secret-box';
import { setUpDatabase } from '../../src/stores/postgres/app-role';
import { testStack } from './test-stack';
import { FAILURE_CONVERTER_PATH } from '../../src/temporal/codec';

/**
 * Once per run: a real redis-server, a real PostgreSQL and a real Temporal dev server on free
 * ports, and one workflow bundle that every worker of every test file loads. Test files read the
 * addresses from the env.
 */
export default async function globalSetup(): Promise<void> {
  const dir = makeRunDir('sistava-test-');
  const [redisPort, temporalPort, postgresPort] = [await freePort(), await freePort(), await freePort()];
  const starts = [
    startRedisServer({ port: redisPort, dir: path.join(dir, 'redis'), appendfsync: 'always', logFile: path.join(dir, 'redis.log') }),
    startTemporalDevServer({ cli: findTemporalCli(), port: temporalPort, dbFile: path.join(dir, 'temporal.db'), logFile: path.join(dir, 'temporal.log') }),
    startPostgresServer({ port: postgresPort, dataDir: path.join(dir, 'postgres'), logFile: path.join(dir, 'postgres.log') }),
  ] as const;
  const bundling = bundleWorkflowCode({
    workflowsPath: require.resolve('../../workflows'),
    failureConverterPath: FAILURE_CONVERTER_PATH,
    logger: quietBundlerLogger,
  });
  const outcomes = await Promise.allSettled([...starts, bundling]);
  const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (failed) {
    // No teardown runs after a failed setup: whatever did start is stopped here, or it would outlive the run.
    for (const outcome of outcomes) if (outcome.status === 'fulfilled' && 'stop' in outcome.value) await outcome.value.stop().catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
    throw failed.reason;
  }
  const [redis, temporal, postgres, bundle] = [await starts[0], await starts[1], await starts[2], await bundling];
  // Once per run, like `npm start` does: tests meet the schema the code expects, and the API and
  // workers connect as the application role, its password in the run's folder (DATA_DIR).
  const { appUrl } = await setUpDatabase({ DATABASE_URL: postgres.url, DATA_DIR: dir });
  // The key that seals the endpoints' signing secrets, as `npm start` makes one: the harness, the
  // workers and the CLI find it in DATA_DIR.
  ensureDevSecretKeys(dir);
  const bundlePath = path.join(dir, 'workflow-bundle.js');
  fs.writeFileSync(bundlePath, bundle.code);
  Object.assign(process.env, {
    TEST_DIR: dir,
    TEST_REDIS_URL: redis.address,
    TEST_REDIS_PORT: String(redisPort),
    TEST_TEMPORAL_ADDRESS: temporal.address,
    TEST_DATABASE_URL: postgres.url,
    TEST_APP_DATABASE_URL: appUrl,
    DATA_DIR: dir,
    WORKFLOW_BUNDLE_PATH: bundlePath,
  });
  testStack.current = { redis, temporal, postgres, dir };
}
