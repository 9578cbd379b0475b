import { randomUUID } from 'node:crypto';
import { createHarnessWithFakeModel, eventually, type Harness, type Seeded } from '../helpers/harness';
import { quotedEvent, type FakeModelServer, type RecordedRequest } from '../helpers/fake-model-server';
import { expectError } from '../helpers/error-body';
import { debitedMessageIds } from '../helpers/ledger-checks';
import { runCli } from '../helpers/run-cli';

/**
 * Replay of one event (POST /api/webhook/:message_id/replay) and the dead-letter list
 * (GET /api/webhook?status=failed), against the real stack: a "model down" is a fake model that
 * answers 503 until the event's short deadline ends it.
 */
let h: Harness;
let fake: FakeModelServer;

beforeAll(async () => {
  ({ h, fake } = await createHarnessWithFakeModel({ OPENAI_MODEL: 'test-model', AGENT_DEADLINE_MS: '2500', REPLAY_CLICK_WINDOW_MS: '1500' }));
});
afterAll(() => h?.close());

const send = (acct: Seeded, payload: string) =>
  h.http.post('/api/webhook/').set(acct.auth).send({ employee_id: acct.employeeId, event: 'ticket.updated', payload });
const replay = (acct: Seeded, messageId: string, body?: object, key?: string) => {
  const req = h.http.post(`/api/webhook/${messageId}/replay`).set(acct.auth);
  if (key) req.set('Idempotency-Key', key);
  return body ? req.send(body) : req;
};
const status = async (acct: Seeded, messageId: string) => (await h.http.get(`/api/webhook/${messageId}`).set(acct.auth)).body;
const ended = (acct: Seeded, messageId: string, want: 'completed' | 'failed') =>
  eventually(`${messageId} ${want}`, async () => {
    const body = await status(acct, messageId);
    return body.status === want ? body : undefined;
  });
/** The requests the model got for one payload (the event's own user message carries it). */
const requestsFor = (payload: string) =>
  fake.requests.filter((r: RecordedRequest) => r.body.messages.some((m) => m.role === 'user' && m.content?.includes(payload)));

describe('replaying one event', () => {
  it('runs a failed event again once the model is back: the replay completes with its own charge, the original stays failed', async () => {
    const acct = await h.seedAccount();
    const payload = `down-${randomUUID()}`;
    let upAgain = false;
    fake.setResponder((r) => (r.body.messages.some((m) => m.content?.includes(payload)) && !upAgain ? { kind: 'status', status: 503 } : undefined));
    const original = await send(acct, payload);
    expect(original.status).toBe(202);
    const failed = await ended(acct, original.body.message_id, 'failed');
    expect(failed.error.type).toBe('EVENT_DEADLINE');

    upAgain = true;
    const first = await replay(acct, original.body.message_id);
    expect(first.status).toBe(202);
    expect(first.body).toEqual({ message_id: expect.any(String), employee_id: acct.employeeId, replay_of: original.body.message_id, status: 'accepted' });
    expect(first.body.message_id).not.toBe(original.body.message_id);
    expect(first.headers.location).toBe(`/api/webhook/${first.body.message_id}`);
    // A double-click: the same replay.
    const again = await replay(acct, original.body.message_id);
    expect([again.status, again.body.message_id, again.body.status]).toEqual([200, first.body.message_id, 'duplicate']);

    const done = await ended(acct, first.body.message_id, 'completed');
    expect(done).toMatchObject({ replay_of: original.body.message_id, event: 'ticket.updated', employee_id: acct.employeeId });
    expect(done.credits).toBeGreaterThan(0);
    expect((await status(acct, original.body.message_id)).status).toBe('failed');
    // The model saw the original's payload again, under the replay's label.
    expect(requestsFor(payload).some((r) => r.body.messages.some((m) => m.content?.includes(`\n[Webhook: ticket.updated] ${payload}\n`)))).toBe(true);
    // One charge for the replay that ran; the failed original consumed no model turn and is charged nothing.
    expect((await debitedMessageIds(h.ledger, acct.accountId)).sort()).toEqual([first.body.message_id]);
    fake.setResponder(undefined);
  });

  it('points a replay of a replay at the first original, and starts a new replay once the double-click window passed', async () => {
    const acct = await h.seedAccount();
    const original = await send(acct, `chain-${randomUUID()}`);
    await ended(acct, original.body.message_id, 'completed');
    const first = await replay(acct, original.body.message_id);
    expect(first.status).toBe(202);
    await ended(acct, first.body.message_id, 'completed');
    const second = await replay(acct, first.body.message_id);
    expect([second.status, second.body.replay_of]).toEqual([202, original.body.message_id]);
    await new Promise((r) => setTimeout(r, 1_600));
    const third = await replay(acct, original.body.message_id);
    expect(third.status).toBe(202);
    expect(new Set([first.body.message_id, second.body.message_id, third.body.message_id]).size).toBe(3);
    await ended(acct, third.body.message_id, 'completed');
    await ended(acct, second.body.message_id, 'completed');
    // Every event that ran was charged once: the original and its three replays.
    const debited = await debitedMessageIds(h.ledger, acct.accountId);
    expect(debited.sort()).toEqual([original, first, second, third].map((r) => r.body.message_id).sort());
  });

  it('replays with a corrected payload, and the same Idempotency-Key is the same replay', async () => {
    const acct = await h.seedAccount();
    const original = await send(acct, `wrong-${randomUUID()}`);
    await ended(acct, original.body.message_id, 'completed');
    const corrected = `right-${randomUUID()}`;
    const key = `replay-${randomUUID()}`;
    const first = await replay(acct, original.body.message_id, { payload: corrected }, key);
    expect(first.status).toBe(202);
    const repeat = await replay(acct, original.body.message_id, { payload: corrected }, key);
    expect([repeat.status, repeat.body.message_id]).toEqual([200, first.body.message_id]);
    await ended(acct, first.body.message_id, 'completed');
    expect(requestsFor(corrected)).toHaveLength(1);
  });

  it('answers 409 while the event runs, 404 for an unknown message or a deleted employee, 410 past retention, 400 for a bad body', async () => {
    const acct = await h.seedAccount();
    const slow = `slow-${randomUUID()}`;
    fake.setResponder((r) => (r.body.messages.some((m) => m.content?.includes(slow)) ? { kind: 'hang', ms: 1_500 } : undefined));
    const running = await send(acct, slow);
    await eventually('the model call', async () => (requestsFor(slow).length > 0 ? true : undefined));
    expectError(await replay(acct, running.body.message_id), 409, 'EVENT_RUNNING');
    await ended(acct, running.body.message_id, 'completed');
    fake.setResponder(undefined);

    expectError(await replay(acct, randomUUID()), 404, 'MESSAGE_NOT_FOUND');
    const other = await h.seedAccount();
    expectError(await replay(other, running.body.message_id), 404, 'MESSAGE_NOT_FOUND');
    expectError(await replay(acct, running.body.message_id, { payload: '  ' }), 400, 'INVALID_REQUEST', 'payload');

    await h.db.query(`UPDATE event_payloads SET expires_at = now() - interval '1 second' WHERE message_id = $1`, [running.body.message_id]);
    expectError(await replay(acct, running.body.message_id), 410, 'REPLAY_EXPIRED');

    const gone = await h.seedAccount();
    const orphan = await send(gone, `orphan-${randomUUID()}`);
    await ended(gone, orphan.body.message_id, 'completed');
    await h.employees.deleteEmployee(gone.employeeId);
    await eventually('the employee cache to forget it', async () => ((await replay(gone, orphan.body.message_id)).status === 404 ? true : undefined));
    expectError(await replay(gone, orphan.body.message_id), 404, 'EMPLOYEE_NOT_FOUND', 'employee_id');
  });

  it('answers 402 when the account cannot cover the replay, as on ingest', async () => {
    const acct = await h.seedAccount({ credits: 10 });
    const original = await send(acct, `cheap-${randomUUID()}`);
    fake.setResponder(() => ({ kind: 'status', status: 400, message: 'refused' }));
    await ended(acct, original.body.message_id, 'failed');
    // Another event holds the account's 10 credits while it runs.
    fake.setResponder(() => ({ kind: 'hang', ms: 1_500 }));
    const holding = await send(acct, `holding-${randomUUID()}`);
    expect(holding.status).toBe(202);
    expectError(await replay(acct, original.body.message_id), 402, 'INSUFFICIENT_CREDITS');
    await ended(acct, holding.body.message_id, 'completed');
    fake.setResponder(undefined);
  });
});

describe('the dead-letter list', () => {
  it('lists failed events with their failure type, message, attempts and time, a page at a time', async () => {
    const acct = await h.seedAccount();
    const since = new Date(Date.now() - 1_000).toISOString();
    // Only the event's own text decides (earlier failed events are in the employee's memory too).
    fake.setResponder((r) =>
      quotedEvent(r.body.messages.at(-1)?.content ?? '').includes('dead-') ? { kind: 'status', status: 400, message: 'no' } : undefined,
    );
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await send(acct, `dead-${i}-${randomUUID()}`)).body.message_id);
    const fine = (await send(acct, `alive-${randomUUID()}`)).body.message_id;
    for (const id of ids) await ended(acct, id, 'failed');
    await ended(acct, fine, 'completed');
    fake.setResponder(undefined);

    const list = (query: string) => h.http.get(`/api/webhook?${query}`).set(acct.auth);
    const all = await eventually('visibility to list the three', async () => {
      const res = await list(`status=failed&since=${encodeURIComponent(since)}`);
      return res.status === 200 && res.body.events.length === 3 ? res.body : undefined;
    });
    expect(all.events.map((e: { message_id: string }) => e.message_id).sort()).toEqual([...ids].sort());
    for (const e of all.events) {
      expect(e).toEqual({
        message_id: expect.any(String),
        employee_id: acct.employeeId,
        status: 'failed',
        error: { type: 'MODEL_REJECTED', message: expect.stringMatching(/^The model server refused the request/) },
        attempts: 1,
        failed_at: expect.any(String),
      });
    }
    const pages: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await list(`status=failed&limit=1&since=${encodeURIComponent(since)}${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      pages.push(...res.body.events.map((e: { message_id: string }) => e.message_id));
      cursor = res.body.next_cursor;
    } while (cursor);
    expect(pages.sort()).toEqual([...ids].sort());
    expect((await list(`status=failed&since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).body.events).toEqual([]);
    expectError(await list('status=running'), 400, 'INVALID_REQUEST', 'status');
    // Another account sees none of them.
    const other = await h.seedAccount();
    expect((await h.http.get(`/api/webhook?status=failed&since=${encodeURIComponent(since)}`).set(other.auth)).body.events).toEqual([]);
  });
});

describe('the event commands of the CLI', () => {
  it('lists failed events and replays one by its message id alone', async () => {
    const acct = await h.seedAccount();
    const payload = `cli-${randomUUID()}`;
    let fixed = false;
    fake.setResponder((r) =>
      r.body.messages.some((m) => m.content?.includes(`\n[Webhook: ticket.updated] ${payload}\n`)) && !fixed ? { kind: 'status', status: 400 } : undefined,
    );
    const original = await send(acct, payload);
    await ended(acct, original.body.message_id, 'failed');
    const env = { TEMPORAL_TASK_QUEUE: h.config.TEMPORAL_TASK_QUEUE };
    const listed = await eventually('the CLI to list it', async () => {
      const run = await runCli(['event', 'list', '--account', acct.accountId, '--status', 'failed', '--json'], env);
      return run.code === 0 && run.json.events.length === 1 ? run : undefined;
    });
    expect(listed.json.events[0]).toMatchObject({ message_id: original.body.message_id, error: { type: 'MODEL_REJECTED' }, attempts: 1 });

    fixed = true;
    const replayed = await runCli(['event', 'replay', original.body.message_id, '--json'], env);
    expect(replayed.code).toBe(0);
    expect(replayed.json).toMatchObject({ replay_of: original.body.message_id, status: 'accepted', employee_id: acct.employeeId });
    await ended(acct, replayed.json.message_id, 'completed');
    const wrong = await runCli(['event', 'list', '--account', acct.accountId, '--status', 'completed', '--json'], env);
    expect([wrong.code, wrong.json.error.code]).toEqual([2, 'INVALID_ARGUMENT']);
    fake.setResponder(undefined);
  });
});

describe('bulk replay', () => {
  it('refuses a filter without employee, label or time range, and a start without the confirmed count', async () => {
    const acct = await h.seedAccount();
    const bulk = (body: object) => h.http.post('/api/webhook/replay').set(acct.auth).send(body);
    expectError(await bulk({ status: 'failed' }), 400, 'INVALID_REQUEST', 'employee_id');
    expectError(await bulk({ employee_id: acct.employeeId, dry_run: false }), 400, 'INVALID_REQUEST', 'count');
    expectError(await bulk({ employee_id: acct.employeeId, status: 'running' }), 400, 'INVALID_REQUEST', 'status');
    expectError(await h.http.get('/api/webhook/replay/bulk_00000000000000000000000000000000').set(acct.auth), 404, 'BULK_NOT_FOUND');
    const dry = await bulk({ employee_id: acct.employeeId });
    expect([dry.status, dry.body.count, dry.body.dry_run]).toEqual([200, 0, true]);
  });

  it("paces itself under the account's rate limit, and a cancel stops it between items", async () => {
    const acct = await h.seedAccount();
    await h.accounts.updateAccount(acct.accountId, { rateLimitPerMinute: 12 });
    fake.setResponder((r) => (r.body.messages.some((m) => m.content?.includes('pace-')) ? { kind: 'status', status: 400 } : undefined));
    // Six requests of the budget: six failed events.
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await send(acct, `pace-${i}-${randomUUID()}`)).body.message_id);
    for (const id of ids)
      await h
        .workflowHandle(acct.accountId, id)
        .result()
        .catch(() => undefined);
    await eventually('visibility to hold the six', async () =>
      (await h.runs.ended(acct.accountId, { status: 'failed', employeeId: acct.employeeId })).length === 6 ? true : undefined,
    );
    fake.setResponder(undefined);
    // Two more: the dry run and the confirmation. Four are left for the bulk's replays.
    const dry = await h.http.post('/api/webhook/replay').set(acct.auth).send({ employee_id: acct.employeeId });
    expect(dry.body.count).toBe(6);
    const started = await h.http.post('/api/webhook/replay').set(acct.auth).send({ employee_id: acct.employeeId, dry_run: false, count: 6 });
    expect(started.status).toBe(202);
    const bulkId: string = started.body.bulk_id;
    const done = async () =>
      (await h.db.query<{ n: number }>('SELECT count(*)::int AS n FROM bulk_replay_items WHERE bulk_id = $1 AND done_at IS NOT NULL', [bulkId])).rows[0].n;
    await eventually('four replays', async () => ((await done()) === 4 ? true : undefined));
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await done()).toBe(4);

    // A larger limit is a fresh budget for the cancel; the bulk sleeps until its own window resets.
    await h.accounts.updateAccount(acct.accountId, { rateLimitPerMinute: 1_000 });
    await new Promise((r) => setTimeout(r, 1_100));
    const cancelled = await h.http.delete(`/api/webhook/replay/${bulkId}`).set(acct.auth);
    expect([cancelled.status, cancelled.body.state, cancelled.body.done]).toEqual([202, 'cancelling', 4]);
    const after = await eventually('the bulk to stop', async () => {
      const res = await h.http.get(`/api/webhook/replay/${bulkId}`).set(acct.auth);
      return res.body.state === 'cancelled' ? res.body : undefined;
    });
    expect(after).toMatchObject({ bulk_id: bulkId, total: 6, done: 4, replayed: 4, finished_at: expect.any(String) });
  });
});
