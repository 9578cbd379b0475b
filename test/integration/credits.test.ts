import { randomUUID } from 'node:crypto';
import { Connection, WorkflowFailedError } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import request from 'supertest';
import { buildApi } from '../../src/api';
import type { Posting } from '../../src/domain/billing';
import { eventWorkflowId } from '../../src/events/workflow-id';
import { createLogger } from '../../src/observability/logger';
import { chargePosting } from '../../src/stores/ledger';
import { MODEL_REJECTED } from '../../src/domain/events';
import { expectError } from '../helpers/error-body';
import type { FakeModelServer } from '../helpers/fake-model-server';
import { createHarness, createHarnessWithFakeModel, eventually, testConfig, type Harness, type Seeded } from '../helpers/harness';
import { verifyLedger } from '../helpers/ledger-checks';
import { runCli } from '../helpers/run-cli';

const RESERVE = 10;
let fake: FakeModelServer;
let h: Harness;

beforeAll(async () => {
  ({ h, fake } = await createHarnessWithFakeModel({
    OPENAI_MODEL: 'test-model',
    MODEL_TIMEOUT_MS: '1000',
    RESERVE_CREDITS_PER_EVENT: String(RESERVE),
    MODEL_PRICES: '{"test-model":{"prompt_per_1k":2,"completion_per_1k":5}}',
    CREDITS_PER_RUNTIME_SECOND: '1',
  }));
});
afterAll(() => h?.close());
beforeEach(() => fake.reset());

const send = (acct: Seeded, key?: string, employeeId = acct.employeeId) => {
  const req = h.http.post('/api/webhook/').set(acct.auth);
  if (key) req.set('Idempotency-Key', key);
  return req.send({ employee_id: employeeId, event: 'order.completed', payload: 'Order #1234 placed.' });
};

/** Reserves RESERVE credits for a message of its own, as the ingest does before it starts the workflow (none starts here); returns the message id. */
async function reserveOnly(acct: Seeded): Promise<string> {
  const messageId = randomUUID();
  const workflowId = `webhook/${acct.accountId}/msg/${messageId}`;
  await h.ledger.reserve({ accountId: acct.accountId, messageId, employeeId: acct.employeeId, workflowId, credits: RESERVE, at: new Date() });
  return messageId;
}

const kinds = (postings: Posting[]) => postings.map((p) => p.kind);

/** The ledger adds up (`credits verify`), nothing is held, and the balance is what the test expects. */
async function expectSettled(accountId: string, balance: number, harness: Harness = h): Promise<void> {
  const { result, audit } = await verifyLedger(harness.ledger, accountId);
  expect(result).toMatchObject({ ok: true, problems: [] });
  expect({ balance: audit.balance, reserved: audit.reserved, open: audit.openReservations }).toEqual({ balance, reserved: 0, open: 0 });
}

describe('402 at ingest', () => {
  it('refuses an account with no credits with INSUFFICIENT_CREDITS and starts no workflow', async () => {
    const acct = await h.seedAccount({ credits: 0 });
    const key = `broke-${randomUUID()}`;
    const res = await send(acct, key);
    expectError(res, 402, 'INSUFFICIENT_CREDITS');
    expect(res.body.error.message).toMatch(/credits/);
    await expect(h.client.workflow.getHandle(eventWorkflowId(acct.accountId, '', key)).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
    expect(await h.ledger.postings(acct.accountId)).toEqual([]);
  });

  it('refuses an account whose available credits are below one event’s reservation', async () => {
    const acct = await h.seedAccount({ credits: RESERVE - 1 });
    expectError(await send(acct), 402, 'INSUFFICIENT_CREDITS');
    expect(kinds(await h.ledger.postings(acct.accountId))).toEqual(['topup']);
  });

  it('answers 404 before 402: an unknown employee is the first thing to fix, and nothing is reserved, recorded or claimed', async () => {
    const acct = await h.seedAccount({ credits: 0 });
    expectError(await send(acct, `k-${randomUUID()}`, randomUUID()), 404, 'EMPLOYEE_NOT_FOUND', 'employee_id');
    expect(await h.ledger.postings(acct.accountId)).toEqual([]);
    const counts = await h.db.query<{ messages: number; windows: number; reservations: number }>(
      `SELECT (SELECT count(*)::int FROM messages WHERE account_id = $1) AS messages,
              (SELECT count(*)::int FROM idempotency_windows WHERE account_id = $1) AS windows,
              (SELECT count(*)::int FROM open_reservations WHERE account_id = $1) AS reservations`,
      [acct.accountId],
    );
    expect(counts.rows[0]).toEqual({ messages: 0, windows: 0, reservations: 0 });
  });

  it('answers a repeat of an accepted key with 200 duplicate even once the credits are gone', async () => {
    const acct = await h.seedAccount({ credits: RESERVE });
    const key = `dup-${randomUUID()}`;
    const first = await send(acct, key);
    expect(first.status).toBe(202);
    expectError(await send(acct), 402, 'INSUFFICIENT_CREDITS');

    const again = await send(acct, key);
    expect({ status: again.status, body: again.body }).toEqual({
      status: 200,
      body: { status: 'duplicate', message_id: first.body.message_id, employee_id: acct.employeeId },
    });
    // The first repeat cached the window; Redis forgets it: the database's window still makes it a duplicate, not a 402.
    expect(await h.windows.lookup(acct.accountId, key)).toMatchObject({ messageId: first.body.message_id, employeeId: acct.employeeId });
    await h.windows.forget(acct.accountId, key);
    const afterLoss = await send(acct, key);
    expect({ status: afterLoss.status, id: afterLoss.body.message_id }).toEqual({ status: 200, id: first.body.message_id });
    // Settled before the next test queues model answers: this event must not take one of them.
    await eventually('the original settled', async () => ((await h.ledger.chargeFor(acct.accountId, first.body.message_id)) ? true : undefined));
  });
});

describe('reserve at ingest, settle in the workflow', () => {
  it('reserves the estimate, then posts the charge at the recorded price and releases the reservation', async () => {
    const acct = await h.seedAccount({ credits: 1000 });
    fake.enqueue({ kind: 'ok', reply: 'Noted.', promptTokens: 1500, completionTokens: 600 });
    const res = await send(acct);
    expect(res.status).toBe(202);
    const messageId: string = res.body.message_id;
    const result = await h.workflowHandle(acct.accountId, messageId).result();

    const postings = await h.ledger.postings(acct.accountId);
    expect(kinds(postings)).toEqual(['topup', 'reserve', 'charge', 'release']);
    const [, reserve, charge, release] = postings;
    expect(reserve).toMatchObject({ messageId, credits: 0, reserved: RESERVE, employeeId: acct.employeeId, event: 'order.completed' });
    // 1,500 × 2 + 600 × 5 = 6,000 thousandths: 6 token credits; the runtime is at least 1 ms: 1 credit or more.
    expect(charge).toMatchObject({
      messageId,
      employeeId: acct.employeeId,
      event: 'order.completed',
      tokensIn: 1500,
      tokensOut: 600,
      tokenCredits: 6,
      model: 'test-model',
      price: { model: 'test-model', promptPer1k: 2, completionPer1k: 5, runtimePerSecond: 1 },
    });
    expect(charge.credits).toBe(-(6 + charge.runtimeCredits!));
    expect(charge.runtimeCredits).toBe(Math.ceil(Math.max(charge.runtimeMs!, 1) / 1000));
    expect(release).toMatchObject({ messageId, credits: 0, reserved: -RESERVE, reason: 'settled' });
    expect(result.charge).toMatchObject({ posted: true, released: true, credits: -charge.credits, posting: charge });
    await expectSettled(acct.accountId, 1000 + charge.credits);
  });

  it('charges nothing for an event that fails permanently and releases its reservation', async () => {
    const acct = await h.seedAccount({ credits: 50 });
    fake.enqueue({ kind: 'status', status: 400, message: 'Invalid value for messages.' });
    const res = await send(acct);
    const err = await h
      .workflowHandle(acct.accountId, res.body.message_id)
      .result()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause).toMatchObject({ type: MODEL_REJECTED });

    const postings = await h.ledger.postings(acct.accountId);
    expect(kinds(postings)).toEqual(['topup', 'reserve', 'release']);
    expect(postings[2]).toMatchObject({ messageId: res.body.message_id, reserved: -RESERVE, reason: 'failed' });
    await expectSettled(acct.accountId, 50);
  });

  it('lets one event overrun its reservation, then refuses the next', async () => {
    const acct = await h.seedAccount({ credits: RESERVE });
    // 10,000 × 2 + 2,000 × 5 = 30 token credits against 10 reserved.
    fake.enqueue({ kind: 'ok', promptTokens: 10_000, completionTokens: 2_000 });
    const res = await send(acct);
    expect(res.status).toBe(202);
    const { charge } = await h.workflowHandle(acct.accountId, res.body.message_id).result();
    expect(charge!.credits).toBeGreaterThan(RESERVE);
    await expectSettled(acct.accountId, RESERVE - charge!.credits);
    expectError(await send(acct), 402, 'INSUFFICIENT_CREDITS');
  });

  it('releases the reservation when the workflow cannot be started (502)', async () => {
    const acct = await h.seedAccount({ credits: 100 });
    const dead = '127.0.0.1:1';
    const connection = Connection.lazy({ address: dead });
    const app = buildApi(
      testConfig({ TEMPORAL_ADDRESS: dead, RESERVE_CREDITS_PER_EVENT: String(RESERVE) }),
      { db: h.appDb, redis: h.redis, connection },
      createLogger(h.config, 'test-api'),
    );
    try {
      const res = await request(app.callback()).post('/api/webhook/').set(acct.auth).send({ employee_id: acct.employeeId, payload: 'x' });
      expectError(res, 502, 'UPSTREAM_UNAVAILABLE');
    } finally {
      await connection.close().catch(() => undefined);
    }
    const postings = await h.ledger.postings(acct.accountId);
    expect(kinds(postings)).toEqual(['topup', 'reserve', 'release']);
    expect(postings[2]).toMatchObject({ reason: 'start-failed', reserved: -RESERVE });
    await expectSettled(acct.accountId, 100);
  });

  it("reserves nothing for a repeat: the key's window answers in the same statement, before any credit is held", async () => {
    const acct = await h.seedAccount({ credits: 100 });
    const key = `twice-${randomUUID()}`;
    const first = await send(acct, key);
    // Nothing in Redis: the repeat is answered by the window's row in PostgreSQL.
    await h.windows.forget(acct.accountId, key);
    const again = await send(acct, key);
    expect([first.status, again.status]).toEqual([202, 200]);

    await eventually('the original settled', async () => ((await h.ledger.chargeFor(acct.accountId, first.body.message_id)) ? true : undefined));
    const postings = await h.ledger.postings(acct.accountId);
    expect(postings.filter((p) => p.messageId !== first.body.message_id && p.kind !== 'topup')).toEqual([]);
    const { rows } = await h.db.query('SELECT id FROM messages WHERE account_id = $1', [acct.accountId]);
    expect(rows).toEqual([{ id: first.body.message_id }]);
    const charges = postings.filter((p) => p.kind === 'charge');
    expect(charges.map((c) => c.messageId)).toEqual([first.body.message_id]);
    await expectSettled(acct.accountId, 100 + charges[0].credits);
  });

  it('keeps a settled event’s postings and no open reservation, and an unsettled reservation open until it is released once', async () => {
    const acct = await h.seedAccount({ credits: 100 });
    const a = acct.accountId;
    const res = await send(acct);
    const settled: string = res.body.message_id;
    const { charge } = await h.workflowHandle(a, settled).result();
    // Reserved and never started: its open reservation holds the amount a later release gives back.
    const open = await reserveOnly(acct);

    expect((await h.ledger.postings(a)).filter((p) => p.messageId === settled).map((p) => p.kind)).toEqual(['reserve', 'charge', 'release']);
    const { rows } = await h.db.query('SELECT message_id, credits FROM open_reservations WHERE account_id = $1', [a]);
    expect(rows).toEqual([{ message_id: open, credits: RESERVE }]);
    expect([await h.ledger.isReserved(a, settled), await h.ledger.isReserved(a, open)]).toEqual([false, true]);
    expect(await h.ledger.reservationFor(a, open)).toMatchObject({ kind: 'reserve', reserved: RESERVE, credits: 0 });
    expect(await h.ledger.counters(a)).toEqual({ balance: 100 - charge!.credits, reserved: RESERVE });
    expect((await verifyLedger(h.ledger, a)).result).toMatchObject({ ok: true, open_reservations: 1, problems: [] });

    expect(await h.ledger.release(a, open, 'never started')).toBe(true);
    expect(await h.ledger.release(a, open, 'never started')).toBe(false);
    expect((await h.ledger.postings(a)).filter((p) => p.messageId === open)).toEqual([
      expect.objectContaining({ kind: 'reserve', reserved: RESERVE }),
      expect.objectContaining({ kind: 'release', reserved: -RESERVE, reason: 'never started' }),
    ]);
    await expectSettled(a, 100 - charge!.credits);
  });
});

describe('a burst of 200 concurrent events on a small balance', () => {
  const BURST = 200;
  const FITS = 20;

  it('accepts exactly as many as the balance can reserve, refuses the rest with 402, and charges each once', async () => {
    const idle = await createHarness({ RESERVE_CREDITS_PER_EVENT: String(RESERVE) }, { worker: false });
    try {
      const acct = await idle.seedAccount({ credits: FITS * RESERVE + RESERVE - 1 });
      const server = await listenOnce(idle);
      let statuses: number[];
      let accepted: string[];
      try {
        const responses = await Promise.all(Array.from({ length: BURST }, (_, i) => post(server.url, acct, `burst ${i}`)));
        statuses = responses.map((r) => r.status);
        accepted = responses.filter((r) => r.status === 202).map((r) => r.body.message_id);
        for (const r of responses.filter((x) => x.status !== 202)) expect(r.body.error.code).toBe('INSUFFICIENT_CREDITS');
      } finally {
        await server.close();
      }
      expect({ accepted: statuses.filter((s) => s === 202).length, refused: statuses.filter((s) => s === 402).length }).toEqual({
        accepted: FITS,
        refused: BURST - FITS,
      });
      const held = await idle.ledger.counters(acct.accountId);
      expect(held.reserved).toBe(FITS * RESERVE);
      expect(held.reserved).toBeLessThanOrEqual(held.balance);

      await idle.startWorker();
      const before = held.balance;
      await eventually('every accepted event settled', async () => ((await idle.ledger.reserved(acct.accountId)) === 0 ? true : undefined), 60_000);
      const { result, audit } = await verifyLedger(idle.ledger, acct.accountId);
      expect(result).toMatchObject({ ok: true, problems: [] });
      const charges = (await idle.ledger.postings(acct.accountId)).filter((p) => p.kind === 'charge');
      expect(charges.map((p) => p.messageId).sort()).toEqual([...accepted].sort());
      const spent = charges.reduce((sum, p) => sum - p.credits, 0);
      expect(audit.balance).toBe(before - spent);
      // Each inbox event costs less than its reservation: the balance never goes below zero.
      expect(audit.balance).toBeGreaterThanOrEqual(0);
    } finally {
      await idle.close();
    }
  }, 120_000);

  it('keeps the invariant while events settle during the burst', async () => {
    const acct = await h.seedAccount({ credits: FITS * RESERVE });
    const server = await listenOnce(h);
    let accepted: string[];
    try {
      const responses = await Promise.all(Array.from({ length: BURST }, (_, i) => post(server.url, acct, `racing ${i}`)));
      expect(responses.every((r) => r.status === 202 || r.body.error.code === 'INSUFFICIENT_CREDITS')).toBe(true);
      accepted = responses.filter((r) => r.status === 202).map((r) => r.body.message_id);
    } finally {
      await server.close();
    }
    // Settled events give back their reservation less their cost, so a few more may fit than at the start.
    expect(accepted.length).toBeGreaterThanOrEqual(FITS);
    await eventually('every accepted event settled', async () => ((await h.ledger.reserved(acct.accountId)) === 0 ? true : undefined), 60_000);
    const { result, audit } = await verifyLedger(h.ledger, acct.accountId);
    expect(result).toMatchObject({ ok: true, problems: [] });
    const charged = (await h.ledger.postings(acct.accountId)).filter((p) => p.kind === 'charge').map((p) => p.messageId!);
    expect(new Set(charged).size).toBe(charged.length);
    expect(charged.sort()).toEqual([...accepted].sort());
    expect(audit.balance).toBeGreaterThanOrEqual(0);
  }, 120_000);

  it('accepts exactly 100 of 200 concurrent events sent in turn to two API processes sharing the database', async () => {
    // Two apps, each with its own pools, as two API processes would have, on one task queue; no worker, so nothing settles during the burst.
    const queue = `test-${randomUUID()}`;
    const apps = await Promise.all(
      [1, 2].map(() => createHarness({ RESERVE_CREDITS_PER_EVENT: String(RESERVE), TEMPORAL_TASK_QUEUE: queue }, { worker: false })),
    );
    try {
      const acct = await apps[0].seedAccount({ credits: 100 * RESERVE });
      const servers = await Promise.all(apps.map(listenOnce));
      let responses: Array<Pick<request.Response, 'status' | 'body'>>;
      try {
        responses = await Promise.all(Array.from({ length: BURST }, (_, i) => post(servers[i % 2].url, acct, `two apis ${i}`)));
      } finally {
        await Promise.all(servers.map((s) => s.close()));
      }
      const accepted: string[] = responses.filter((r) => r.status === 202).map((r) => r.body.message_id);
      expect({ accepted: accepted.length, refused: responses.filter((r) => r.status === 402).length }).toEqual({ accepted: 100, refused: 100 });
      for (const r of responses.filter((x) => x.status === 402)) expect(r.body.error.code).toBe('INSUFFICIENT_CREDITS');
      expect(new Set(accepted).size).toBe(100);

      // `credits verify`: every reservation posted once, the counters equal the postings' sums.
      const { result } = await verifyLedger(apps[1].ledger, acct.accountId);
      expect(result).toMatchObject({
        ok: true,
        balance: { counter: 100 * RESERVE },
        reserved: { counter: 100 * RESERVE, ledger: 100 * RESERVE },
        open_reservations: 100,
        problems: [],
      });
      const reserves = (await apps[1].ledger.postings(acct.accountId)).filter((p) => p.kind === 'reserve');
      expect(reserves.map((p) => p.messageId).sort()).toEqual([...accepted].sort());
      const { rows } = await apps[0].db.query('SELECT count(*)::int AS n FROM messages WHERE account_id = $1', [acct.accountId]);
      expect(rows[0].n).toBe(100);

      // Then they settle, each charged once, and the ledger still adds up.
      await apps[0].startWorker();
      await eventually('every accepted event settled', async () => ((await apps[0].ledger.reserved(acct.accountId)) === 0 ? true : undefined), 90_000);
      const charged = (await apps[0].ledger.postings(acct.accountId)).filter((p) => p.kind === 'charge').map((p) => p.messageId!);
      expect(charged.sort()).toEqual([...accepted].sort());
      expect((await verifyLedger(apps[0].ledger, acct.accountId)).result).toMatchObject({ ok: true, open_reservations: 0, problems: [] });
    } finally {
      await Promise.all(apps.map((app) => app.close()));
    }
  }, 180_000);
});

describe('top-ups with a reference', () => {
  it('adds an invoice once however often it is posted, also ten times at once', async () => {
    const acct = await h.seedAccount({ credits: 0 });
    const first = await h.ledger.topUp(acct.accountId, 50, 'INVOICE-42');
    const again = await h.ledger.topUp(acct.accountId, 50, 'INVOICE-42');
    expect(first).toMatchObject({ added: true, balance: 50, posting: { kind: 'topup', credits: 50, reference: 'INVOICE-42' } });
    expect(again).toEqual({ added: false, balance: 50, posting: first.posting });

    // Ten at once, on ten open connections, a few times over: each caller is told the one posting, and it counts once.
    // (The reference is the account's own: other accounts' invoice 42 are other top-ups.)
    await Promise.all(Array.from({ length: 10 }, () => h.db.query('SELECT pg_sleep(0.05)')));
    const racing = await Promise.all(Array.from({ length: 5 }, () => h.seedAccount({ credits: 0 })));
    for (const account of racing) {
      const results = await Promise.all(Array.from({ length: 10 }, () => h.ledger.topUp(account.accountId, 50, 'INVOICE-42')));
      expect(results.filter((r) => r.added)).toHaveLength(1);
      expect(results.map((r) => r.balance)).toEqual(Array(10).fill(50));
      expect(new Set(results.map((r) => r.posting.id)).size).toBe(1);
    }

    for (const account of [acct.accountId, ...racing.map((r) => r.accountId)]) {
      expect(await h.ledger.balance(account)).toBe(50);
      expect((await h.ledger.postings(account)).map((p) => [p.kind, p.credits, p.reference])).toEqual([['topup', 50, 'INVOICE-42']]);
      expect((await verifyLedger(h.ledger, account)).result).toMatchObject({ ok: true, problems: [] });
    }
  });

  it('adds once through `credits add --reference`, and says so the second time', async () => {
    const acct = await h.seedAccount({ credits: 0 });
    const args = ['credits', 'add', '--account', acct.accountId, '--amount', '50', '--reference', 'INVOICE-42', '--json'];
    const first = await runCli(args);
    expect(first).toMatchObject({ code: 0, json: { account_id: acct.accountId, added: 50, balance: 50, reference: 'INVOICE-42', duplicate: false } });
    const second = await runCli(args);
    expect(second).toMatchObject({
      code: 0,
      json: { account_id: acct.accountId, added: 0, balance: 50, reference: 'INVOICE-42', duplicate: true, posting_id: first.json.posting_id },
    });
    expect(await h.ledger.balance(acct.accountId)).toBe(50);
    expect((await h.ledger.postings(acct.accountId)).map((p) => p.id)).toEqual([first.json.posting_id]);
  }, 60_000);
});

describe('the append-only ledger', () => {
  it('refuses UPDATE, DELETE and TRUNCATE of postings even from the superuser the tests connect as, and nothing changes', async () => {
    const acct = await h.seedAccount({ credits: 100 });
    const a = acct.accountId;
    await reserveOnly(acct);
    const { rows: role } = await h.db.query('SELECT rolsuper FROM pg_roles WHERE rolname = current_user');
    expect(role).toEqual([{ rolsuper: true }]);
    const before = { counters: await h.ledger.counters(a), postings: await h.ledger.postings(a) };
    expect(before.postings.map((p) => p.kind)).toEqual(['topup', 'reserve']);

    const refusal = (op: string) => ({ code: '23001', message: expect.stringContaining(`the ledger is append-only: ${op} on postings is refused`) });
    await expect(h.db.query('UPDATE postings SET credits = credits + 1000 WHERE account_id = $1', [a])).rejects.toMatchObject(refusal('UPDATE'));
    await expect(h.db.query('DELETE FROM postings WHERE account_id = $1', [a])).rejects.toMatchObject(refusal('DELETE'));
    // In a transaction that is rolled back whatever happens: if the guard ever broke, the shared database would keep its postings.
    const client = await h.db.connect();
    try {
      await client.query('BEGIN');
      await client.query(`SET LOCAL lock_timeout = '10s'`);
      await expect(client.query('TRUNCATE postings')).rejects.toMatchObject(refusal('TRUNCATE'));
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }

    expect({ counters: await h.ledger.counters(a), postings: await h.ledger.postings(a) }).toEqual(before);
    expect((await verifyLedger(h.ledger, a)).result).toMatchObject({ ok: true, problems: [] });
  });

  it('lets `credits verify` name a reservation missing from the open ones and a rollup that lost credits', async () => {
    const acct = await h.seedAccount({ credits: 100 });
    const a = acct.accountId;
    const held = await reserveOnly(acct);
    const charged = randomUUID();
    const charge = chargePosting({
      accountId: a,
      messageId: charged,
      employeeId: acct.employeeId,
      tokensIn: 1000,
      tokensOut: 0,
      runtimeMs: 1000,
      tokenCredits: 2,
      runtimeCredits: 1,
      price: { model: 'default', promptPer1k: 2, completionPer1k: 1, runtimePerSecond: 1 },
    });
    await h.ledger.settle(a, charged, charge, 'settled');
    expect((await verifyLedger(h.ledger, a)).result).toMatchObject({ ok: true, problems: [] });

    // Neither table is the ledger: both can be changed by mistake, and the audit notices.
    await h.db.query('DELETE FROM open_reservations WHERE account_id = $1 AND message_id = $2', [a, held]);
    await h.db.query('UPDATE usage_hourly SET credits = credits - 1 WHERE account_id = $1', [a]);
    const { result } = await verifyLedger(h.ledger, a);
    expect(result.ok).toBe(false);
    expect(result.problems.sort()).toEqual(
      [`message ${held}: reserved but missing from the open reservations`, 'the usage rollup holds 2 charged credits but the charge postings sum to 3'].sort(),
    );
  });
});

/** One listening server for a burst: supertest would open one per request. */
async function listenOnce(harness: Harness): Promise<{ url: string; close: () => Promise<void> }> {
  const server = harness.app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/api/webhook/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function post(url: string, acct: Seeded, payload: string): Promise<Pick<request.Response, 'status' | 'body'>> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { ...acct.auth, 'Content-Type': 'application/json' },
    body: JSON.stringify({ employee_id: acct.employeeId, payload }),
  });
  return { status: res.status, body: await res.json() };
}
