import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { NativeConnection, Worker } from '@temporalio/worker';
import type { Redis } from 'ioredis';
import request from 'supertest';
import type Koa from 'koa';
import type { AppState } from '../../src/http/state';
import type pg from 'pg';
import { buildApi } from '../../src/api';
import { parseConfig, type Config } from '../../src/config';
import { eventWorkflowId } from '../../src/events/workflow-id';
import { createLogger } from '../../src/observability/logger';
import { AccountStore } from '../../src/stores/accounts';
import { ApiKeyStore } from '../../src/stores/api-keys';
import { EmployeeMemory } from '../../src/stores/employee-memory';
import { EmployeeStore } from '../../src/stores/employees';
import { Ledger } from '../../src/stores/ledger';
import { appDatabaseUrl } from '../../src/stores/postgres/app-role';
import { createPool } from '../../src/stores/postgres/pool';
import { connectRedis } from '../../src/stores/redis/client';
import { EventRuns } from '../../src/temporal/event-runs';
import { IdempotencyCache } from '../../src/stores/redis/idempotency-cache';
import { UsageStore } from '../../src/stores/usage';
import { createTemporalClient } from '../../src/temporal/connect';
import { connectTemporalNative } from '../../src/temporal/connect-native';
import { createWorker } from '../../src/temporal/create-worker';
import { installTemporalRuntime } from '../../src/temporal/runtime';
import { startFakeModelServer, type FakeModelServer } from './fake-model-server';

/** The config a test runs with: the suite's PostgreSQL, Redis and Temporal, a task queue of its own. */
export function testConfig(overrides: Record<string, string | undefined> = {}): Config {
  return parseConfig({
    DATABASE_URL: process.env.TEST_DATABASE_URL,
    DATA_DIR: process.env.TEST_DIR,
    REDIS_URL: process.env.TEST_REDIS_URL,
    TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS,
    TEMPORAL_TASK_QUEUE: `test-${randomUUID()}`,
    WORKFLOW_BUNDLE_PATH: process.env.WORKFLOW_BUNDLE_PATH,
    LOG_LEVEL: 'silent',
    // Suites send many bad keys from one address on purpose; test/integration/auth-refusals.test.ts checks the limit.
    AUTH_FAILURES_PER_MINUTE: '1000000',
    ...overrides,
  });
}

export interface Harness {
  config: Config;
  /** The tables' owner (a superuser here): for tests that look behind the service's back or break things on purpose. */
  db: pg.Pool;
  /** The application role, which the harness's API, worker and stores use. */
  appDb: pg.Pool;
  redis: Redis;
  app: Koa<AppState>;
  http: ReturnType<typeof request>;
  client: Client;
  /** The adapter for event runs, over `client`. */
  runs: EventRuns;
  accounts: AccountStore;
  employees: EmployeeStore;
  keys: ApiKeyStore;
  ledger: Ledger;
  usage: UsageStore;
  windows: IdempotencyCache;
  memory: EmployeeMemory;
  /** Starts an in-process worker on this harness's task queue (if not started yet). */
  startWorker(): Promise<Worker>;
  stopWorker(): Promise<void>;
  /** An account ready to send webhooks, with an employee and a key. */
  seedAccount(opts?: { credits?: number; verified?: boolean; webhookEnabled?: boolean }): Promise<Seeded>;
  workflowHandle(accountId: string, messageId: string, idempotencyKey?: string): ReturnType<Client['workflow']['getHandle']>;
  close(): Promise<void>;
}

export interface Seeded {
  accountId: string;
  employeeId: string;
  key: string;
  keyId: string;
  auth: { Authorization: string };
}

/** Real PostgreSQL, Redis and Temporal, the real app over real HTTP (supertest on an ephemeral port). */
export async function createHarness(overrides: Record<string, string | undefined> = {}, opts: { worker?: boolean } = {}): Promise<Harness> {
  const config = testConfig(overrides);
  installTemporalRuntime(createLogger({ LOG_LEVEL: 'error', LOG_PRETTY: false }, 'test-sdk'), 'ERROR');
  const redis = await connectRedis(config.REDIS_URL, { failFast: true });
  // The API and the worker connect as the application role, as in production; `db` is the owner,
  // for tests that look behind the service's back or break things on purpose.
  const db = createPool(config.DATABASE_URL, { name: 'test-owner', failFast: true });
  const apiDb = createPool(appDatabaseUrl(config), { name: 'test-api', failFast: true });
  const workerDb = createPool(appDatabaseUrl(config), { name: 'test-worker' });
  const { client, connection } = await createTemporalClient(config);
  const app = buildApi(config, { db: apiDb, redis, connection }, createLogger(config, 'test-api'));
  const accounts = new AccountStore(apiDb);
  const employees = new EmployeeStore(apiDb);
  const keys = new ApiKeyStore(apiDb);
  const ledger = new Ledger(apiDb);
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  let nativeConnection: NativeConnection | undefined;

  const harness: Harness = {
    config,
    db,
    appDb: apiDb,
    redis,
    app,
    http: request(app.callback()),
    client,
    runs: new EventRuns(client),
    accounts,
    employees,
    keys,
    ledger,
    usage: new UsageStore(apiDb),
    windows: new IdempotencyCache(redis),
    memory: new EmployeeMemory(apiDb, config.MEMORY_TURNS),
    async startWorker() {
      if (worker) return worker;
      nativeConnection ??= await connectTemporalNative(config);
      worker = await createWorker(config, nativeConnection, workerDb, createLogger(config, 'test-worker'), { shutdownGraceTime: '1s' }, redis);
      running = worker.run();
      return worker;
    },
    async stopWorker() {
      if (!worker) return;
      worker.shutdown();
      await running;
      worker = undefined;
    },
    async seedAccount({ credits = 1000, verified = true, webhookEnabled = true } = {}) {
      const account = await accounts.createAccount({ email: `${randomUUID()}@example.test`, emailVerified: verified, webhookEnabled });
      const employee = await employees.createEmployee({ accountId: account.id, name: 'Ada', instructions: 'You handle shop events.' });
      const { key, info } = await keys.createApiKey(account.id, 'test');
      if (credits) await ledger.topUp(account.id, credits);
      return { accountId: account.id, employeeId: employee.id, key, keyId: info.id, auth: { Authorization: `Bearer ${key}` } };
    },
    workflowHandle(accountId, messageId, idempotencyKey) {
      return client.workflow.getHandle(eventWorkflowId(accountId, messageId, idempotencyKey));
    },
    async close() {
      await harness.stopWorker();
      await nativeConnection?.close();
      await connection.close();
      redis.disconnect();
      await Promise.all([db.end(), apiDb.end(), workerDb.end()]);
    },
  };
  if (opts.worker !== false) await harness.startWorker();
  return harness;
}

/**
 * A fake model server of its own, then a harness whose model it is (OPENAI_BASE_URL, before
 * `overrides`); the harness's `close()` closes the model server after itself.
 */
export async function createHarnessWithFakeModel(
  overrides: Record<string, string | undefined> = {},
  opts: { worker?: boolean } = {},
): Promise<{ h: Harness; fake: FakeModelServer }> {
  const fake = await startFakeModelServer();
  let h: Harness;
  try {
    h = await createHarness({ OPENAI_BASE_URL: fake.baseURL, ...overrides }, opts);
  } catch (err) {
    await fake.close();
    throw err;
  }
  const closeHarness = h.close.bind(h);
  h.close = async () => {
    await closeHarness();
    await fake.close();
  };
  return { h, fake };
}

/** Polls until `check` returns a value (not undefined), or fails with `what` after the deadline. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
