import { randomUUID } from 'node:crypto';
import { chargePosting } from '../../src/stores/ledger';
import { expectError } from '../helpers/error-body';
import { createHarness, eventually, type Harness, type Seeded } from '../helpers/harness';

let h: Harness;
let acct: Seeded;

beforeAll(async () => {
  h = await createHarness({ IDEMPOTENCY_WINDOW_MS: '60000' });
  acct = await h.seedAccount({ credits: 100 });
});
afterAll(() => h.close());

const post = (body: object, key?: string) => {
  const req = h.http.post('/api/webhook/').set(acct.auth);
  return (key ? req.set('Idempotency-Key', key) : req).send(body);
};

describe('GET /api/webhook/:message_id', () => {
  it('reports a completed event with its credits, attempts and a trace link into the Temporal UI', async () => {
    const accepted = await post({ employee_id: acct.employeeId, event: 'order.completed', payload: 'Order #1 paid.' });
    await h.workflowHandle(acct.accountId, accepted.body.message_id).result();
    const res = await h.http.get(`/api/webhook/${accepted.body.message_id}`).set(acct.auth);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      message_id: accepted.body.message_id,
      employee_id: acct.employeeId,
      event: 'order.completed',
      status: 'completed',
      attempts: 1,
      credits: 1,
    });
    expect(Date.parse(res.body.received_at)).toBeLessThanOrEqual(Date.parse(res.body.completed_at));
    expect(res.body.trace_url).toMatch(
      new RegExp(
        `^http://localhost:8233/namespaces/default/workflows/${encodeURIComponent(`webhook/${acct.accountId}/msg/${accepted.body.message_id}`)}/[0-9a-f-]+/history$`,
      ),
    );
  });

  it('reports a keyed event completed when Temporal does: the workflow closes as soon as its work is done', async () => {
    const key = `status-${Date.now()}`;
    const accepted = await post({ employee_id: acct.employeeId, payload: 'Held open.' }, key);
    const view = await eventually('completed status', async () => {
      const res = await h.http.get(`/api/webhook/${accepted.body.message_id}`).set(acct.auth);
      return res.body.status === 'completed' ? res.body : undefined;
    });
    expect(view.credits).toBe(1);
    const description = await h.workflowHandle(acct.accountId, accepted.body.message_id, key).describe();
    expect(description.status.name).toBe('COMPLETED');
    const duplicate = await post({ employee_id: acct.employeeId, payload: 'Held open.' }, key);
    const dupView = await h.http.get(`/api/webhook/${duplicate.body.message_id}`).set(acct.auth);
    expect(dupView.body.message_id).toBe(accepted.body.message_id);
  });

  it('reports accepted for an event no worker has picked up yet', async () => {
    await h.stopWorker();
    try {
      const accepted = await post({ employee_id: acct.employeeId, payload: 'Waiting.' });
      const res = await h.http.get(`/api/webhook/${accepted.body.message_id}`).set(acct.auth);
      expect(res.body).toMatchObject({ status: 'accepted', completed_at: null, credits: null });
    } finally {
      await h.startWorker();
    }
  });

  it("answers 404 for another account's message exactly as for an unknown one", async () => {
    const accepted = await post({ employee_id: acct.employeeId, payload: 'Mine.' });
    const other = await h.seedAccount();
    const foreign = await h.http.get(`/api/webhook/${accepted.body.message_id}`).set(other.auth);
    const unknown = await h.http.get('/api/webhook/00000000-0000-4000-8000-000000000000').set(other.auth);
    expect(foreign.status).toBe(404);
    expect(foreign.body.error).toEqual(unknown.body.error);
    expect(foreign.body.error.code).toBe('MESSAGE_NOT_FOUND');
  });

  it('still answers from the message record once Temporal has dropped the workflow (past retention): failed without a charge', async () => {
    const messageId = randomUUID();
    const receivedAt = new Date(Date.now() - 86_400_000);
    await h.db.query('INSERT INTO messages (id, account_id, employee_id, workflow_id, event, received_at) VALUES ($1, $2, $3, $4, $5, $6)', [
      messageId,
      acct.accountId,
      acct.employeeId,
      `webhook/${acct.accountId}/msg/${messageId}`,
      null,
      receivedAt,
    ]);
    const res = await h.http.get(`/api/webhook/${messageId}`).set(acct.auth);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      message_id: messageId,
      employee_id: acct.employeeId,
      received_at: receivedAt.toISOString(),
      status: 'failed',
      completed_at: null,
      credits: null,
      trace_url: null,
      error: { type: null },
    });
  });

  it('still answers from the ledger once Temporal has dropped the workflow (past retention): completed with its charge', async () => {
    const messageId = randomUUID();
    const receivedAt = new Date(Date.now() - 86_400_000);
    const workflowId = `webhook/${acct.accountId}/msg/${messageId}`;
    expect(
      await h.ledger.reserve({
        accountId: acct.accountId,
        messageId,
        employeeId: acct.employeeId,
        event: 'order.completed',
        workflowId,
        credits: 10,
        at: receivedAt,
      }),
    ).toMatchObject({ ok: true });
    const charge = chargePosting(
      {
        accountId: acct.accountId,
        messageId,
        employeeId: acct.employeeId,
        event: 'order.completed',
        tokensIn: 10,
        tokensOut: 5,
        runtimeMs: 100,
        tokenCredits: 1,
        runtimeCredits: 1,
        price: { model: 'default', promptPer1k: 1, completionPer1k: 1, runtimePerSecond: 1 },
      },
      new Date(receivedAt.getTime() + 1_000),
    );
    expect(await h.ledger.settle(acct.accountId, messageId, charge, 'completed')).toMatchObject({ posted: true, released: true });
    const res = await h.http.get(`/api/webhook/${messageId}`).set(acct.auth);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      message_id: messageId,
      employee_id: acct.employeeId,
      event: 'order.completed',
      status: 'completed',
      received_at: receivedAt.toISOString(),
      replay_of: null,
      batch_of: null,
      completed_at: charge.at,
      attempts: 0,
      credits: 2,
      steps: [],
      trace_url: null,
    });
  });

  it("counts against the account's rate limit, one budget with the webhook route", async () => {
    const limited = await h.seedAccount();
    await h.accounts.updateAccount(limited.accountId, { rateLimitPerMinute: 3 });
    const accepted = await h.http.post('/api/webhook/').set(limited.auth).send({ employee_id: limited.employeeId, payload: 'Counted.' });
    expect([accepted.status, accepted.headers['ratelimit-remaining']]).toEqual([202, '2']);
    const status = () => h.http.get(`/api/webhook/${accepted.body.message_id}`).set(limited.auth);
    const [first, second] = [await status(), await status()];
    expect([first.status, first.headers['ratelimit-limit'], first.headers['ratelimit-remaining']]).toEqual([200, '3', '1']);
    expect([second.status, second.headers['ratelimit-remaining']]).toEqual([200, '0']);

    const third = await status();
    expectError(third, 429, 'RATE_LIMITED');
    const retryAfter = Number(third.headers['retry-after']);
    expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60).toBe(true);
    expect([third.headers['ratelimit-limit'], third.headers['ratelimit-remaining']]).toEqual(['3', '0']);
    // An unknown message id is counted and refused the same way: the limit comes before the lookup.
    expectError(await h.http.get(`/api/webhook/${randomUUID()}`).set(limited.auth), 429, 'RATE_LIMITED');
    // The webhook route shares the spent budget.
    expectError(await h.http.post('/api/webhook/').set(limited.auth).send({ employee_id: limited.employeeId, payload: 'Over.' }), 429, 'RATE_LIMITED');
    // Another account's budget is its own.
    expect((await h.http.get(`/api/webhook/${accepted.body.message_id}`).set(acct.auth)).status).toBe(404);
  });

  it('requires the Bearer key and a UUID', async () => {
    expect((await h.http.get('/api/webhook/00000000-0000-4000-8000-000000000000')).status).toBe(401);
    const bad = await h.http.get('/api/webhook/not-a-uuid').set(acct.auth);
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('INVALID_REQUEST');
  });
});

describe('GET /metrics', () => {
  it('counts accepted, duplicate and rejected webhooks and the ingest latency in Prometheus text', async () => {
    const key = `metrics-${Date.now()}`;
    await post({ employee_id: acct.employeeId, payload: 'one' }, key);
    await post({ employee_id: acct.employeeId, payload: 'one' }, key);
    await h.http.post('/api/webhook/').set(acct.auth).send({ employee_id: 'nope', payload: 'x' });
    const res = await h.http.get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text).toMatch(/webhook_events_total\{outcome="accepted",code=""\} [1-9]/);
    expect(res.text).toMatch(/webhook_events_total\{outcome="duplicate",code=""\} [1-9]/);
    expect(res.text).toMatch(/webhook_events_total\{outcome="rejected",code="INVALID_REQUEST"\} [1-9]/);
    expect(res.text).toMatch(/webhook_ingest_duration_seconds_bucket\{le="0.1",outcome="accepted"\} \d+/);
    expect(res.text).toMatch(/http_requests_total\{route="\/api\/webhook",method="POST",status="202"\} \d+/);
    expect(res.text).toContain('process_resident_memory_bytes');
  });
});
