import { defaultPayloadConverter } from '@temporalio/common';
import { employeeQueueWorkflowId } from '../../src/events/workflow-id';
import { EMPLOYEE_CACHE_TTL_MS } from '../../src/stores/employees';
import type { QueuedEvent } from '../../workflows/contract';
import { createHarness, type Harness, type Seeded } from '../helpers/harness';

let h: Harness;
let acct: Seeded;

beforeAll(async () => {
  // A deadline so short that many signals reach the queue workflow but their answer does not reach us in time.
  h = await createHarness({ TEMPORAL_START_TIMEOUT_MS: '3' }, { worker: false });
  acct = await h.seedAccount({ credits: 10_000 });
  await h.accounts.updateAccount(acct.accountId, { rateLimitPerMinute: 100_000 });
  await h.employees.updateFlow(acct.employeeId, { mode: 'ordered' });
  await new Promise((r) => setTimeout(r, EMPLOYEE_CACHE_TTL_MS + 100));
});
afterAll(() => h.close());

describe('an enqueue (ordered mode) whose answer is lost', () => {
  it('answers 202 when the queue holds the event after all, and 502 only when it does not', async () => {
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        h.http
          .post('/api/webhook/')
          .set(acct.auth)
          .send({ employee_id: acct.employeeId, payload: `lost signal ${i}` }),
      ),
    );
    expect(answers.every((r) => r.status === 202 || r.status === 502)).toBe(true);
    const accepted = answers.filter((r) => r.status === 202).map((r) => String(r.body.message_id));

    // Every event in the queue's history is one the caller was told was accepted, and vice versa.
    const history = await h.client.workflow.getHandle(employeeQueueWorkflowId(acct.accountId, acct.employeeId)).fetchHistory();
    const queued = (history.events ?? []).flatMap((e) => {
      const signal = e.workflowExecutionSignaledEventAttributes;
      return signal ? [defaultPayloadConverter.fromPayload<QueuedEvent>(signal.input!.payloads![0]).input.messageId] : [];
    });
    expect(queued.sort()).toEqual([...accepted].sort());
    // Nothing stays reserved for an event that was refused.
    const postings = await h.ledger.postings(acct.accountId);
    expect(postings.filter((p) => p.kind === 'reserve').length - postings.filter((p) => p.kind === 'release').length).toBe(accepted.length);
  });
});
