import type { FakeModelServer } from '../helpers/fake-model-server';
import { createHarnessWithFakeModel, eventually, type Harness, type Seeded } from '../helpers/harness';

let h: Harness;
let fake: FakeModelServer;
let acct: Seeded;

beforeAll(async () => {
  ({ h, fake } = await createHarnessWithFakeModel({ OPENAI_MODEL: 'test-model' }));
  acct = await h.seedAccount({ credits: 1000 });
});
afterAll(() => h?.close());

const post = (employeeId: string, event: string, payload: string) =>
  h.http.post('/api/webhook/').set(acct.auth).send({ employee_id: employeeId, event, payload });

async function list(query: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const wf of h.client.workflow.list({ query })) ids.push(wf.workflowId);
  return ids.sort();
}

describe('tracing events in Temporal', () => {
  it('moves EventStatus through processing to completed, and the status API shows each step', async () => {
    fake.enqueue({ kind: 'hang', ms: 1500 });
    const accepted = await post(acct.employeeId, 'ticket.created', 'Ticket #5.');
    const processing = await eventually('processing', async () => {
      const res = await h.http.get(`/api/webhook/${accepted.body.message_id}`).set(acct.auth);
      return res.body.status === 'processing' ? res.body : undefined;
    });
    expect(processing).toMatchObject({ completed_at: null, credits: null });
    const description = await h.workflowHandle(acct.accountId, accepted.body.message_id).describe();
    expect(description.searchAttributes).toMatchObject({
      EventStatus: ['processing'],
      EventType: ['ticket.created'],
      EmployeeId: [acct.employeeId],
      AccountId: [acct.accountId],
    });
    await h.workflowHandle(acct.accountId, accepted.body.message_id).result();
    const done = await h.http.get(`/api/webhook/${accepted.body.message_id}`).set(acct.auth);
    expect(done.body.status).toBe('completed');
  });

  it('finds the failed events of one employee with a visibility query, and only those', async () => {
    const other = await h.employees.createEmployee({ accountId: acct.accountId, name: 'Bo' });
    fake.enqueue({ kind: 'status', status: 400 });
    const failed = await post(other.id, 'deploy.failed', 'Deploy 9 failed.');
    await expect(h.workflowHandle(acct.accountId, failed.body.message_id).result()).rejects.toThrow();
    const ok = await post(other.id, 'deploy.done', 'Deploy 10 done.');
    await h.workflowHandle(acct.accountId, ok.body.message_id).result();
    const elsewhere = await post(acct.employeeId, 'deploy.done', 'Unrelated.');
    await h.workflowHandle(acct.accountId, elsewhere.body.message_id).result();

    const failedIds = await eventually('visibility of the failed event', async () => {
      const ids = await list(`EmployeeId="${other.id}" AND EventStatus="failed"`);
      return ids.length ? ids : undefined;
    });
    expect(failedIds).toEqual([`webhook/${acct.accountId}/msg/${failed.body.message_id}`]);
    const byLabel = await eventually('visibility by label', async () => {
      const ids = await list(`AccountId="${acct.accountId}" AND EventType="deploy.done"`);
      return ids.length === 2 ? ids : undefined;
    });
    expect(byLabel).toHaveLength(2);

    const status = await h.http.get(`/api/webhook/${failed.body.message_id}`).set(acct.auth);
    expect(status.body).toMatchObject({ status: 'failed', error: { type: 'MODEL_REJECTED' } });
  });

  it('keeps request metadata in the memo and never the API key', async () => {
    const key = `memo-${Date.now()}`;
    const res = await h.http
      .post('/api/webhook/')
      .set(acct.auth)
      .set('X-Request-Id', 'req-memo-1')
      .set('Idempotency-Key', key)
      .send({ employee_id: acct.employeeId, payload: 'Memo check.' });
    const description = await h.workflowHandle(acct.accountId, res.body.message_id, key).describe();
    expect(description.memo).toMatchObject({ messageId: res.body.message_id, requestId: 'req-memo-1', idempotencyKey: key, receivedAt: expect.any(String) });
    expect(JSON.stringify(description.memo)).not.toContain(acct.key);
    expect(await description.staticSummary()).toBe('[Webhook] Memo check.');
    // Let its model call finish, so it cannot take a reply queued by the next test.
    await eventually('memo event completed', async () => {
      const status = await h.http.get(`/api/webhook/${res.body.message_id}`).set(acct.auth);
      return status.body.status === 'completed' ? true : undefined;
    });
  });
});

describe('current details in the Temporal UI', () => {
  it('read like a log of the steps the event went through', async () => {
    fake.enqueue({ kind: 'ok', reply: 'On it.', promptTokens: 120, completionTokens: 30 });
    const res = await post(acct.employeeId, 'order.completed', 'Customer John placed order #1234 for $99.');
    const handle = h.workflowHandle(acct.accountId, res.body.message_id);
    await handle.result();
    const details = await eventually('current details', async () => {
      // The SDK's built-in metadata query carries what setCurrentDetails set; a closed workflow still answers it.
      const meta = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata').catch(() => undefined);
      return meta?.currentDetails || undefined;
    });
    expect(details.split('\n')).toEqual([
      'formatted: [Webhook: order.completed] Customer John placed order #1234 for $99.',
      'turn 1: 120 + 30 tokens, answered',
      expect.stringMatching(/^charged \d+ credits \(\d+ token, \d+ runtime\)$/),
    ]);
  });
});
