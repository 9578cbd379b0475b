import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import { createEventServices, type EventServicesConfig } from '../events/services';
import { BulkReplayStore } from '../stores/bulk-replays';
import { AccountRateLimiter } from '../stores/redis/rate-limiter';
import { createActivities } from '../../activities';
import { createModelServer } from '../../activities/model-server';
import { priceList, type Config } from '../config';
import type { Logger } from '../observability/logger';
import { AccountStore } from '../stores/accounts';
import { ConversationStore } from '../stores/conversations';
import { EmployeeMemory } from '../stores/employee-memory';
import { EmployeeStore } from '../stores/employees';
import { EndpointStore } from '../stores/endpoints';
import { secretKeys } from '../secrets/secret-box';
import { Ledger } from '../stores/ledger';
import { MessageStore } from '../stores/messages';
import { ReconcileRunStore } from '../stores/reconcile-runs';
import { temporalDataConverter } from './codec';
import { temporalClient, type TemporalConfig } from './connect';
import { EventRuns } from './event-runs';
export type WorkerConfig = TemporalConfig &
  Pick<
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
    | 'RECONCILE_STALE_AFTER_MS'
    | 'AGENT_MAX_STEPS'
    | 'AGENT_MAX_TOKENS'
    | 'AGENT_DEADLINE_MS'
    | 'AGENT_MAX_CREDITS'
    | 'AGENT_MAX_PROMPT_TOKENS'
    | 'AGENT_MAX_TOOL_CALLS_PER_TURN'
    | 'AGENT_MAX_TOOL_CALLS'
    | 'AGENT_MAX_WEBHOOK_BYTES'
    | 'ENDPOINT_PER_MINUTE'
    | 'WEBHOOK_TIMEOUT_MS'
    | 'WORKFLOW_BUNDLE_PATH'
    | 'PAYLOAD_KEYS'
    | 'SECRET_KEYS'
    | 'DATA_DIR'
    | 'RATE_LIMIT_PER_MINUTE'
  > &
  EventServicesConfig;

/**
 * A worker for the event and reconcile workflows. Workflow code comes from a prebuilt bundle when
 * one is given (tests build it once per run), else it is bundled from `workflows/` at start.
 */
export async function createWorker(
  config: WorkerConfig,
  connection: NativeConnection,
  db: pg.Pool,
  logger: Logger,
  extra: Partial<WorkerOptions> = {},
  /** For bulk replays (the rate limiter, and the ingest a replay goes through); without it their steps fail over to other workers. */
  redis?: Redis,
): Promise<Worker> {
  const dataConverter = temporalDataConverter(config);
  const client = temporalClient(config, connection);
  const ledger = new Ledger(db);
  const employees = new EmployeeStore(db);
  const endpoints = new EndpointStore(db, secretKeys(config));
  const activities = createActivities({
    employees,
    endpoints,
    defaultLimits: {
      maxSteps: config.AGENT_MAX_STEPS,
      maxTokens: config.AGENT_MAX_TOKENS,
      deadlineMs: config.AGENT_DEADLINE_MS,
      maxCredits: config.AGENT_MAX_CREDITS,
      maxPromptTokens: config.AGENT_MAX_PROMPT_TOKENS,
      maxToolCallsPerTurn: config.AGENT_MAX_TOOL_CALLS_PER_TURN,
      maxToolCalls: config.AGENT_MAX_TOOL_CALLS,
      maxWebhookBytes: config.AGENT_MAX_WEBHOOK_BYTES,
    },
    webhooks: { employees, endpoints, timeoutMs: config.WEBHOOK_TIMEOUT_MS, defaultPerMinute: config.ENDPOINT_PER_MINUTE },
    memory: new EmployeeMemory(db, config.MEMORY_TURNS),
    conversations: new ConversationStore(db),
    ledger,
    messages: new MessageStore(db),
    prices: priceList(config),
    defaultModel: config.OPENAI_MODEL,
    model: config.OPENAI_BASE_URL
      ? createModelServer({ baseURL: config.OPENAI_BASE_URL, apiKey: config.OPENAI_API_KEY, timeoutMs: config.MODEL_TIMEOUT_MS })
      : undefined,
    reconcile: {
      events: new EventRuns(client),
      ledger,
      accounts: new AccountStore(db),
      runs: new ReconcileRunStore(db),
      staleAfterMs: config.RECONCILE_STALE_AFTER_MS,
      logger,
    },
    bulk: redis
      ? {
          bulks: new BulkReplayStore(db),
          replayer: createEventServices(config, { db, redis, client }, logger).replayer,
          limiter: new AccountRateLimiter(redis, config.RATE_LIMIT_PER_MINUTE),
          accounts: new AccountStore(db),
          itemWindowMs: config.REPLAY_RETENTION,
        }
      : undefined,
  });
  return Worker.create({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    ...(config.WORKFLOW_BUNDLE_PATH ? { workflowBundle: { codePath: config.WORKFLOW_BUNDLE_PATH } } : { workflowsPath: require.resolve('../../workflows') }),
    activities,
    // Payloads (event text, replies, tool arguments) are encrypted before they reach Temporal's history.
    dataConverter,
    // On SIGTERM, running activities get this long to finish before the worker gives them up.
    shutdownGraceTime: '30s',
    ...extra,
  });
}
