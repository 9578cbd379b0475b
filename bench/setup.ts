import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { freePort, waitFor } from '../src/dev/services';
import { AccountStore } from '../src/stores/accounts';
import { ApiKeyStore } from '../src/stores/api-keys';
import { EmployeeStore } from '../src/stores/employees';
import { Ledger } from '../src/stores/ledger';
import type { Stack, BenchChild } from './stack';

export interface BenchAccount {
  accountId: string;
  employeeId: string;
  apiKey: string;
}

/** Enough credits that no charge in any run is ever refused. */
const BENCH_CREDITS = 1_000_000_000;

/** A verified account with the webhook channel on, lots of credits, one employee and one key, through the stores. */
export async function seedAccount(db: pg.Pool, runId: string): Promise<BenchAccount> {
  const account = await new AccountStore(db).createAccount({ email: `bench+${runId}@sistava.local`, emailVerified: true, webhookEnabled: true });
  await new Ledger(db).topUp(account.id, BENCH_CREDITS);
  const employee = await new EmployeeStore(db).createEmployee({ accountId: account.id, name: 'Bench' });
  const { key } = await new ApiKeyStore(db).createApiKey(account.id, 'bench');
  return { accountId: account.id, employeeId: employee.id, apiKey: key };
}

export interface RunningApi {
  child: BenchChild;
  baseUrl: string;
}

/**
 * src/api.ts as a child on a free loopback port, resolved once `ready` answers 200: /readyz (database,
 * Redis and Temporal answer), or /healthz when the run has no Temporal and the routes used need none.
 */
export function startApi(stack: Stack, name: string, env: Record<string, string>, ready: '/readyz' | '/healthz' = '/readyz'): Promise<RunningApi> {
  // The limiter still runs (one Redis call per request, as in production) but never refuses.
  return startListening(stack, name, 'src/api.ts', { ...env, RATE_LIMIT_PER_MINUTE: '1000000000' }, ready);
}

/**
 * bench/floor-api.ts as a child on a free loopback port: the same round trips as an accepted event,
 * made with the bare libraries (see the file). Resolved once it answers.
 */
export function startFloorApi(stack: Stack, env: Record<string, string>): Promise<RunningApi> {
  return startListening(stack, 'api-floor', 'bench/floor-api.ts', env, '/');
}

/** `file` as a child listening on a free loopback port (PORT, HOST), resolved once `ready` answers 200. */
async function startListening(stack: Stack, name: string, file: string, env: Record<string, string>, ready: string): Promise<RunningApi> {
  const port = await freePort();
  const child = stack.spawnChild(name, file, { ...env, PORT: String(port), HOST: '127.0.0.1' });
  const baseUrl = `http://127.0.0.1:${port}`;
  await waitFor(
    name,
    async () => {
      const res = await fetch(`${baseUrl}${ready}`);
      if (!res.ok) throw new Error(`${ready} ${res.status}`);
    },
    60_000,
  );
  return { child, baseUrl };
}

/** Task queue types in DescribeTaskQueue (temporal.api.enums.v1.TaskQueueType). */
const WORKFLOW_QUEUE = 1;
const ACTIVITY_QUEUE = 2;

/** Resolves once `workers` workers (distinct identities) poll both the workflow and the activity side of `taskQueue`. */
export async function waitForPollers(client: Client, taskQueue: string, timeoutMs = 60_000, workers = 1): Promise<void> {
  await waitFor(
    `${workers === 1 ? 'a poller' : `${workers} pollers`} on ${taskQueue}`,
    async () => {
      for (const taskQueueType of [WORKFLOW_QUEUE, ACTIVITY_QUEUE]) {
        const res = await client.workflowService.describeTaskQueue({ namespace: client.options.namespace, taskQueue: { name: taskQueue }, taskQueueType });
        const polling = new Set((res.pollers ?? []).map((p) => p.identity));
        if (polling.size < workers) throw new Error(`${polling.size} of ${workers} pollers (type ${taskQueueType})`);
      }
    },
    timeoutMs,
  );
}
