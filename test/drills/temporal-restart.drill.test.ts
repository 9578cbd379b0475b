import { randomUUID } from 'node:crypto';
import { startFakeModelServer, type FakeModelServer } from '../helpers/fake-model-server';
import { createHarness, type Harness, type Seeded } from '../helpers/harness';
import { awaitCompleted, postBurst } from '../helpers/burst';
import { debitedMessageIds, repeated, reportDrill } from '../helpers/ledger-checks';
import { privateTemporal, type RestartableService } from '../helpers/private-stack';
import { killAllServices, startService } from '../helpers/processes';

const TASK_QUEUE = `drill-temporal-${randomUUID()}`;
let temporal: RestartableService;
let h: Harness;
let fake: FakeModelServer;
let acct: Seeded;

beforeAll(async () => {
  [temporal, fake] = await Promise.all([privateTemporal(), startFakeModelServer()]);
  h = await createHarness({ TEMPORAL_ADDRESS: temporal.address, TEMPORAL_TASK_QUEUE: TASK_QUEUE, OPENAI_BASE_URL: fake.baseURL }, { worker: false });
  acct = await h.seedAccount({ credits: 100_000 });
  await h.accounts.updateAccount(acct.accountId, { rateLimitPerMinute: 100_000 });
}, 60_000);
afterAll(async () => {
  await killAllServices();
  await h?.close();
  await fake?.close();
  await temporal?.stop();
});

describe('drill: Temporal dev server killed and restarted on its file database', () => {
  it('finishes every accepted event after the restart, each charged once', async () => {
    fake.setDefault({ kind: 'hang', ms: 200 });
    const { accepted } = await postBurst(h, acct, 100);
    expect(accepted).toHaveLength(100);
    const worker = startService('src/worker.ts', { TEMPORAL_ADDRESS: temporal.address, TEMPORAL_TASK_QUEUE: TASK_QUEUE, OPENAI_BASE_URL: fake.baseURL });
    await fake.waitForRequests(20, 60_000);

    await temporal.kill('SIGKILL');
    await temporal.restart();

    const completed = await awaitCompleted(h, acct, accepted);
    const debited = await debitedMessageIds(h.ledger, acct.accountId);
    reportDrill('Temporal SIGKILL + restart', { accepted: accepted.length, processed: completed.length, charged: debited.length, charged_twice: repeated(debited).length });
    expect(completed.sort()).toEqual([...accepted].sort());
    expect(debited.sort()).toEqual([...accepted].sort());
    await worker.stop();
  }, 180_000);
});
