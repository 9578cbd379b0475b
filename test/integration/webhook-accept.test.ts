import { createHarness, eventually, type Harness, type Seeded } from '../helpers/harness';

let h: Harness;
let acct: Seeded;

beforeAll(async () => {
  h = await createHarness();
  acct = await h.seedAccount({ credits: 100 });
});
afterAll(() => h.close());

describe('POST /api/webhook/', () => {
  it('answers 202 with a message id and the employee receives the exact formatted message', async () => {
    const res = await h.http
      .post('/api/webhook/')
      .set(acct.auth)
      .send({ employee_id: acct.employeeId, event: 'order.completed', payload: 'Customer John placed order #1234 for $99.' });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ message_id: expect.stringMatching(/^[0-9a-f-]{36}$/), employee_id: acct.employeeId, status: 'accepted' });
    expect(res.headers.location).toBe(`/api/webhook/${res.body.message_id}`);

    const result = await h.workflowHandle(acct.accountId, res.body.message_id).result();
    expect(result.status).toBe('completed');
    const inbox = await h.memory.inbox(acct.employeeId);
    expect(inbox[0]).toMatchObject({
      messageId: res.body.message_id,
      direction: 'received',
      text: '[Webhook: order.completed] Customer John placed order #1234 for $99.',
    });
  });

  it('formats an event without a label as [Webhook] and also accepts the path without trailing slash', async () => {
    const res = await h.http.post('/api/webhook').set(acct.auth).send({ employee_id: acct.employeeId, payload: 'Deploy finished.' });
    expect(res.status).toBe(202);
    await h.workflowHandle(acct.accountId, res.body.message_id).result();
    const inbox = await h.memory.inbox(acct.employeeId);
    expect(inbox[0].text).toBe('[Webhook] Deploy finished.');
  });

  it('charges credits exactly once per event and records the posting', async () => {
    const before = await h.ledger.balance(acct.accountId);
    const res = await h.http.post('/api/webhook/').set(acct.auth).send({ employee_id: acct.employeeId, payload: 'ping' });
    const result = await h.workflowHandle(acct.accountId, res.body.message_id).result();
    expect(result.charge).toMatchObject({ posted: true, credits: 1, runtimeCredits: 1, tokenCredits: 0 });
    expect(await h.ledger.balance(acct.accountId)).toBe(before - 1);
    const posting = await h.ledger.chargeFor(acct.accountId, res.body.message_id);
    expect(posting).toMatchObject({ kind: 'charge', credits: -1, employeeId: acct.employeeId });
    await eventually('search attribute completed', async () => {
      const d = await h.workflowHandle(acct.accountId, res.body.message_id).describe();
      return d.searchAttributes.EventStatus?.[0] === 'completed' ? d : undefined;
    });
  });
});
