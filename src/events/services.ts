import type { Client } from '@temporalio/client';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import type { Config } from '../config';
import type { Logger } from '../observability/logger';
import { EmployeeStore } from '../stores/employees';
import { EventIntake } from '../stores/intake';
import { Ledger } from '../stores/ledger';
import { IdempotencyCache } from '../stores/redis/idempotency-cache';
import { EventRuns } from '../temporal/event-runs';
import { payloadSealer } from '../temporal/sealed-payload';
import { BulkReplayStore } from '../stores/bulk-replays';
import { BulkReplays } from './bulk-replay';
import { EventIngest } from './ingest';
import { EventReplayer } from './replay';

/** The event services over their clients: what the API serves, and what the CLI's `event` commands call in process. */
export interface EventServices {
  runs: EventRuns;
  intake: EventIntake;
  ingest: EventIngest;
  replayer: EventReplayer;
  bulk: BulkReplays;
}

/** The settings the event services read. */
export type EventServicesConfig = Pick<
  Config,
  | 'TEMPORAL_TASK_QUEUE'
  | 'IDEMPOTENCY_WINDOW_MS'
  | 'TEMPORAL_START_TIMEOUT_MS'
  | 'RESERVE_CREDITS_PER_EVENT'
  | 'REPLAY_RETENTION'
  | 'REPLAY_CLICK_WINDOW_MS'
  | 'FLOW_EVENTS_PER_RUN'
  | 'PAYLOAD_KEYS'
  | 'PAYLOAD_ALLOW_PLAINTEXT'
  | 'TEMPORAL_NAMESPACE'
>;

export function createEventServices(config: EventServicesConfig, clients: { db: pg.Pool; redis: Redis; client: Client }, logger: Logger): EventServices {
  const runs = new EventRuns(clients.client);
  const intake = new EventIntake(clients.db);
  const sealer = payloadSealer(config);
  const ingest = new EventIngest(
    runs,
    new EmployeeStore(clients.db),
    new IdempotencyCache(clients.redis),
    intake,
    new Ledger(clients.db),
    {
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      idempotencyWindowMs: config.IDEMPOTENCY_WINDOW_MS,
      startTimeoutMs: config.TEMPORAL_START_TIMEOUT_MS,
      reserveCreditsPerEvent: config.RESERVE_CREDITS_PER_EVENT,
      replayRetentionMs: config.REPLAY_RETENTION,
      seal: (payload) => sealer.seal(payload),
      eventsPerQueueRun: config.FLOW_EVENTS_PER_RUN,
    },
    logger,
  );
  const replayer = new EventReplayer(ingest, intake, runs, {
    clickWindowMs: config.REPLAY_CLICK_WINDOW_MS,
    idempotencyWindowMs: config.IDEMPOTENCY_WINDOW_MS,
    open: (sealed) => sealer.open(sealed),
  });
  const bulk = new BulkReplays(runs, new BulkReplayStore(clients.db), {
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    startTimeoutMs: config.TEMPORAL_START_TIMEOUT_MS,
  });
  return { runs, intake, ingest, replayer, bulk };
}
