import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { Redis } from 'ioredis';
import { createActivities } from '../activities';
import { createModelServer } from '../activities/model-server';
import { priceList, type Config } from './config';
import { AccountStore } from './stores/account-store';
import { EmployeeMemory } from './stores/employee-memory';
import { Ledger } from './stores/ledger';

export type WorkerConfig = Pick<
  Config,
  | 'TEMPORAL_NAMESPACE'
  | 'TEMPORAL_TASK_QUEUE'
  | 'OPENAI_BASE_URL'
  | 'OPENAI_API_KEY'
  | 'OPENAI_MODEL'
  | 'MODEL_TIMEOUT_MS'
  | 'MEMORY_TURNS'
  | 'MODEL_PRICES'
  | 'CREDITS_PER_1K_PROMPT_TOKENS'
  | 'CREDITS_PER_1K_COMPLETION_TOKENS'
  | 'CREDITS_PER_RUNTIME_SECOND'
  | 'WORKFLOW_BUNDLE_PATH'
>;

/**
 * A worker for event workflows. Workflow code comes from a prebuilt bundle when one is given
 * (tests build it once per run), else it is bundled from `workflows/` at start.
 */
export async function createWorker(
  config: WorkerConfig,
  connection: NativeConnection,
  redis: Redis,
  extra: Partial<WorkerOptions> = {},
): Promise<Worker> {
  const activities = createActivities({
    accounts: new AccountStore(redis),
    memory: new EmployeeMemory(redis, config.MEMORY_TURNS),
    ledger: new Ledger(redis),
    prices: priceList(config),
    defaultModel: config.OPENAI_MODEL,
    complete: config.OPENAI_BASE_URL
      ? createModelServer({ baseURL: config.OPENAI_BASE_URL, apiKey: config.OPENAI_API_KEY, timeoutMs: config.MODEL_TIMEOUT_MS })
      : undefined,
  });
  return Worker.create({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    ...(config.WORKFLOW_BUNDLE_PATH
      ? { workflowBundle: { codePath: config.WORKFLOW_BUNDLE_PATH } }
      : { workflowsPath: require.resolve('../workflows') }),
    activities,
    // On SIGTERM, running activities get this long to finish before the worker gives them up.
    shutdownGraceTime: '30s',
    ...extra,
  });
}
