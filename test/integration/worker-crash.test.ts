import { randomUUID } from 'node:crypto';
import { temporal } from '@temporalio/proto';
import type { FakeModelServer } from '../helpers/fake-model-server';
import { createHarnessWithFakeModel, type Harness } from '../helpers/harness';
import { killAllServices, startService } from '../helpers/processes';

const TASK_QUEUE = `test-crash-${randomUUID()}`;

let fake: FakeModelServer;
let h: Harness;

/**
 * `src/worker.ts` as its own process (Node runs it, tsx only as a loader), so a SIGKILL takes the
 * whole worker down at once, the way a crashed machine would.
 */
const startWorkerProcess = () => startService('src/worker.ts', { TEMPORAL_TASK_QUEUE: TASK_QUEUE, OPENAI_BASE_URL: fake.baseURL, OPENAI_MODEL: 'test-model' });

beforeAll(async () => {
  ({ h, fake } = await createHarnessWithFakeModel({ TEMPORAL_TASK_QUEUE: TASK_QUEUE, OPENAI_MODEL: 'test-model' }, { worker: false }));
});
afterAll(async () => {
  await killAllServices();
  await h?.close();
});

describe('a worker killed while the employee waits on the model', () => {
  it('retries on another worker and delivers, records and charges the event exactly once', async () => {
    const acct = await h.seedAccount({ credits: 100 });
    fake.enqueue({ kind: 'hang' }, { kind: 'ok', reply: 'Handled after the crash.', promptTokens: 900, completionTokens: 200 });
    const first = startWorkerProcess();

    const res = await h.http.post('/api/webhook/').set(acct.auth).send({ employee_id: acct.employeeId, event: 'order.completed', payload: 'Order #77.' });
    expect(res.status).toBe(202);
    const messageId: string = res.body.message_id;
    const handle = h.workflowHandle(acct.accountId, messageId);

    await fake.waitForRequests(1, 30_000).catch((err: Error) => {
      throw new Error(`${err.message}\nworker output:\n${first.output.join('')}`);
    });
    await first.stop('SIGKILL');
    const second = startWorkerProcess();

    const result = await handle.result();
    expect(result.status).toBe('completed');
    expect(fake.requests).toHaveLength(2);

    // The first attempt died with its worker and was noticed by the missing heartbeats.
    const history = await handle.fetchHistory();
    const started = (history.events ?? []).map((e) => e.activityTaskStartedEventAttributes).filter((a) => a);
    expect(started).toHaveLength(1);
    expect(started[0]!.attempt).toBe(2);
    expect(started[0]!.lastFailure?.timeoutFailureInfo?.timeoutType).toBe(temporal.api.enums.v1.TimeoutType.TIMEOUT_TYPE_HEARTBEAT);

    const charges = (await h.ledger.postings(acct.accountId)).filter((p) => p.kind === 'charge');
    expect(charges).toHaveLength(1);
    expect(charges[0]).toMatchObject({ messageId, tokensIn: 900, tokensOut: 200, tokenCredits: 2 });
    expect(result.charge).toMatchObject({ posted: true, credits: -charges[0].credits });
    expect(await h.ledger.balance(acct.accountId)).toBe(100 + charges[0].credits);

    const entries = (await h.memory.inbox(acct.employeeId)).filter((e) => e.messageId === messageId);
    expect(entries.map((e) => e.direction).sort()).toEqual(['received', 'replied']);
    expect(entries.find((e) => e.direction === 'received')!.text).toBe('[Webhook: order.completed] Order #77.');

    await second.stop('SIGTERM');
  }, 45_000);
});
