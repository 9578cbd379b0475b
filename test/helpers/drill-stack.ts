import { randomUUID } from 'node:crypto';
import { startFakeModelServer, type FakeModelServer } from './fake-model-server';
import { createHarness, type Harness, type Seeded } from './harness';
import { killAllServices } from './processes';

export interface DrillStack {
  taskQueue: string;
  h: Harness;
  acct: Seeded;
  /** Present when asked for with `fakeModel`. */
  fake: FakeModelServer;
}

/**
 * The common set-up of drills and process tests: an in-process API (no in-process worker unless
 * asked) on a task queue of its own, optionally a fake model server, and a funded account whose
 * rate limit never gets in the way. Registers its own beforeAll/afterAll; read the fields inside tests.
 */
export function useDrillStack(
  name: string,
  opts: { fakeModel?: boolean; worker?: boolean; credits?: number; overrides?: () => Record<string, string> } = {},
): DrillStack {
  const stack = { taskQueue: `drill-${name}-${randomUUID()}` } as DrillStack;
  beforeAll(async () => {
    if (opts.fakeModel) stack.fake = await startFakeModelServer();
    stack.h = await createHarness(
      { TEMPORAL_TASK_QUEUE: stack.taskQueue, ...(opts.fakeModel ? { OPENAI_BASE_URL: stack.fake.baseURL } : {}), ...opts.overrides?.() },
      { worker: opts.worker ?? false },
    );
    stack.acct = await stack.h.seedAccount({ credits: opts.credits ?? 100_000 });
    await stack.h.accounts.updateAccount(stack.acct.accountId, { rateLimitPerMinute: 100_000 });
  }, 60_000);
  afterAll(async () => {
    await killAllServices();
    await stack.h?.close();
    await stack.fake?.close();
  });
  return stack;
}
