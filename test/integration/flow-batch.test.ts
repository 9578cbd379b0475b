import { randomUUID } from 'node:crypto';
import { reconcile } from '../../src/billing/reconcile';
import { employeeQueueWorkflowId } from '../../src/events/workflow-id';
import { EMPLOYEE_CACHE_TTL_MS } from '../../src/stores/employees';
import { createHarnessWithFakeModel, eventually, type Harness } from '../helpers/harness';
import { quotedEvent, type FakeModelServer, type RecordedRequest } from '../helpers/fake-model-server';
import { expectError } from '../helpers/error-body';
import { debitedMessageIds } from '../helpers/ledger-checks';
import { runCli } from '../helpers/run-cli';

/** Batch mode: an employee's burst of events debounced into one agent run; and queued events under reconcile. */
let h: Harness;
let fake: FakeModelServer;

beforeAll(async () => {
  ({ h, fake } = await createHarnessWithFakeModel({ OPENAI_MODEL: 'test-model' }));
});
afterAll(() => h?.close());

/** The event's own user message: the last one (the employee's memory comes before it). */
/** The event text the model was sent, inside its quoting markers. */
const ownMessage = (r: RecordedRequest) => quotedEvent([...r.body.messages].reverse().find((m) => m.role === 'user')?.content ?? '');

describe('batch mode', () => {
  it('runs a burst of 50 events as one model run listing every event in order, charged once against the first message', async () => {
    const acct = await h.seedAccount();
    const set = await runCli([
      'employee',
      'update',
      acct.employeeId,
      '--mode',
      'batch',
      '--debounce',
      '1500ms',
      '--max-wait',
      '30s',
      '--max-batch',
      '50',
      '--json',
    ]);
    expect(set.code).toBe(0);
    expect(set.json.flow).toEqual({ mode: 'batch', debounce_ms: 1_500, max_wait_ms: 30_000, max_batch: 50 });
    await new Promise((r) => setTimeout(r, EMPLOYEE_CACHE_TTL_MS + 100));
    const tag = randomUUID();
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) {
      const res = await h.http
        .post('/api/webhook/')
        .set(acct.auth)
        .send({ employee_id: acct.employeeId, event: 'ticket.updated', payload: `${tag} #${i}` });
      expect(res.status).toBe(202);
      ids.push(res.body.message_id);
    }
    expect((await h.http.get(`/api/webhook/${ids[49]}`).set(acct.auth)).body.status).toBe('queued');
    // A queued event has not ended: it cannot be replayed yet.
    expectError(await h.http.post(`/api/webhook/${ids[49]}/replay`).set(acct.auth), 409, 'EVENT_RUNNING');

    const first = await eventually('the batch to complete', async () => {
      const body = (await h.http.get(`/api/webhook/${ids[0]}`).set(acct.auth)).body;
      return body.status === 'completed' ? body : undefined;
    });
    const runs = fake.requests.filter((r) => ownMessage(r).includes(tag));
    expect(runs).toHaveLength(1);
    expect(ownMessage(runs[0])).toBe(ids.map((_, i) => `[Webhook: ticket.updated] ${tag} #${i}`).join('\n'));

    // One charge, against the first message; every other reservation released; every message linked.
    expect(await debitedMessageIds(h.ledger, acct.accountId)).toEqual([ids[0]]);
    expect(first).toMatchObject({ batch_of: ids[0], credits: expect.any(Number) });
    expect(first.credits).toBeGreaterThan(0);
    const open = await h.db.query('SELECT message_id FROM open_reservations WHERE message_id = ANY ($1::uuid[])', [ids]);
    expect(open.rows).toEqual([]);
    const linked = await h.db.query<{ batch_of: string }>('SELECT batch_of FROM messages WHERE id = ANY ($1::uuid[])', [ids]);
    expect(linked.rows.map((r) => r.batch_of)).toEqual(ids.map(() => ids[0]));
    const member = (await h.http.get(`/api/webhook/${ids[17]}`).set(acct.auth)).body;
    expect(member).toMatchObject({ message_id: ids[17], status: 'completed', batch_of: ids[0], credits: null, trace_url: first.trace_url });
    const held = await h.db.query<{ reserved: string }>('SELECT reserved FROM credit_balances WHERE account_id = $1', [acct.accountId]);
    expect(Number(held.rows[0].reserved)).toBe(0);
    // Reports count every message as an event, and the credits once.
    const usage = await h.http.get('/api/billing/usage?group_by=employee').set(acct.auth);
    expect(usage.body.rows).toEqual([expect.objectContaining({ events: 50, credits: first.credits })]);
    // A batched event has ended with its batch: it may be replayed (as a new event of its own).
    const again = await h.http.post(`/api/webhook/${ids[17]}/replay`).set(acct.auth);
    expect([again.status, again.body.replay_of]).toEqual([202, ids[17]]);
  });

  it('closes a batch at --max-batch: the rest run in the next batch, in order', async () => {
    const acct = await h.seedAccount();
    await h.employees.updateFlow(acct.employeeId, { mode: 'batch', debounceMs: 1_000, maxWaitMs: 10_000, maxBatch: 3 });
    await new Promise((r) => setTimeout(r, EMPLOYEE_CACHE_TTL_MS + 100));
    const tag = randomUUID();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++)
      ids.push(
        (
          await h.http
            .post('/api/webhook/')
            .set(acct.auth)
            .send({ employee_id: acct.employeeId, payload: `${tag} #${i}` })
        ).body.message_id,
      );
    await eventually('both batches charged', async () => ((await debitedMessageIds(h.ledger, acct.accountId)).length === 2 ? true : undefined));
    const prompts = fake.requests.filter((r) => ownMessage(r).includes(tag)).map(ownMessage);
    expect(prompts).toEqual([[0, 1, 2].map((i) => `[Webhook] ${tag} #${i}`).join('\n'), [3, 4].map((i) => `[Webhook] ${tag} #${i}`).join('\n')]);
    expect((await debitedMessageIds(h.ledger, acct.accountId)).sort()).toEqual([ids[0], ids[3]].sort());
  });
});

describe('queued events and reconcile', () => {
  it("leaves a queued event's reservation and record alone however long it waits: its queue will run it", async () => {
    const acct = await h.seedAccount();
    await h.employees.updateFlow(acct.employeeId, { mode: 'ordered' });
    await new Promise((r) => setTimeout(r, EMPLOYEE_CACHE_TTL_MS + 100));
    await h.stopWorker();
    const ids: string[] = [];
    try {
      for (let i = 0; i < 3; i++)
        ids.push(
          (
            await h.http
              .post('/api/webhook/')
              .set(acct.auth)
              .send({ employee_id: acct.employeeId, payload: `backlog ${i}` })
          ).body.message_id,
        );
      const held = await h.db.query<{ workflow_id: string }>('SELECT workflow_id FROM open_reservations WHERE message_id = ANY ($1::uuid[])', [ids]);
      expect(held.rows.map((r) => r.workflow_id)).toEqual(ids.map(() => employeeQueueWorkflowId(acct.accountId, acct.employeeId)));
      // Every reservation counts as stale by age here: none is released, no record is forgotten.
      const report = await reconcile(h.runs, h.ledger, {
        accountId: acct.accountId,
        from: new Date(Date.now() - 3_600_000),
        to: new Date(Date.now() + 60_000),
        repair: true,
        staleAfterMs: 0,
        now: new Date(Date.now() + 3_600_000),
      });
      expect(report.stale_reservations).toEqual([]);
      expect((await h.http.get(`/api/webhook/${ids[2]}`).set(acct.auth)).body.status).toBe('queued');
    } finally {
      await h.startWorker();
    }
    await eventually('the backlog charged', async () => ((await debitedMessageIds(h.ledger, acct.accountId)).length === 3 ? true : undefined));
  });
});
