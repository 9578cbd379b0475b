import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import type { Redis } from 'ioredis';
import request from 'supertest';
import type Koa from 'koa';
import { buildApi } from '../../src/api';
import { parseConfig, type Config } from '../../src/config';
import { createWorker } from '../../src/create-worker';
import { createLogger } from '../../src/logger';
import { installTemporalRuntime } from '../../src/temporal-runtime';
import { connectRedis } from '../../src/redis';
import { AccountStore } from '../../src/stores/account-store';
import { EmployeeMemory } from '../../src/stores/employee-memory';
import { Ledger } from '../../src/stores/ledger';
import { eventWorkflowId } from '../../src/workflow-id';

/** The config a test runs with: the suite's Redis and Temporal, a task queue of its own. */
export function testConfig(overrides: Record<string, string | undefined> = {}): Config {
  return parseConfig({
    REDIS_URL: process.env.TEST_REDIS_URL,
    TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS,
    TEMPORAL_TASK_QUEUE: `test-${randomUUID()}`,
    WORKFLOW_BUNDLE_PATH: process.env.WORKFLOW_BUNDLE_PATH,
    LOG_LEVEL: 'silent',
    ...overrides,
  });
}

export interface Harness {
  config: Config;
  redis: Redis;
  app: Koa<any>;
  http: ReturnType<typeof request>;
  client: Client;
  accounts: AccountStore;
  ledger: Ledger;
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

/** Real Redis, real Temporal, the real app over real HTTP (supertest on an ephemeral port). */
export async function createHarness(overrides: Record<string, string | undefined> = {}, opts: { worker?: boolean } = {}): Promise<Harness> {
  const config = testConfig(overrides);
  installTemporalRuntime(createLogger({ LOG_LEVEL: 'error', LOG_PRETTY: false }, 'test-sdk'), 'ERROR');
  const redis = await connectRedis(config.REDIS_URL, { failFast: true });
  const workerRedis = await connectRedis(config.REDIS_URL);
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS! });
  const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  const app = buildApi(config, redis, connection, createLogger(config, 'test-api'));
  const accounts = new AccountStore(redis);
  const ledger = new Ledger(redis);
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  let nativeConnection: NativeConnection | undefined;

  const harness: Harness = {
    config,
    redis,
    app,
    http: request(app.callback()),
    client,
    accounts,
    ledger,
    memory: new EmployeeMemory(redis, config.MEMORY_TURNS),
    async startWorker() {
      if (worker) return worker;
      nativeConnection ??= await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS! });
      worker = await createWorker(config, nativeConnection, workerRedis, { shutdownGraceTime: '1s' });
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
      const employee = await accounts.createEmployee({ accountId: account.id, name: 'Ada', instructions: 'You handle shop events.' });
      const { key, info } = await accounts.createApiKey(account.id, 'test');
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
      workerRedis.disconnect();
    },
  };
  if (opts.worker !== false) await harness.startWorker();
  return harness;
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
