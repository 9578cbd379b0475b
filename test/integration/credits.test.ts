import { randomUUID } from 'node:crypto';
import { Connection, WorkflowFailedError } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import request from 'supertest';
import { buildApi } from '../../src/api';
import { verifySnapshot } from '../../src/billing/verify';
import { createLogger } from '../../src/logger';
import { keys } from '../../src/stores/keys';
import { LEDGER_RECORD_TTL_SECONDS, type Posting } from '../../src/stores/ledger';
import { eventWorkflowId, sha256Hex } from '../../src/workflow-id';
import { MODEL_REJECTED } from '../../workflows/types';
import { expectError } from '../helpers/error-body';
import { startFakeModelServer, type FakeModelServer } from '../helpers/fake-model-server';
import { createHarness, eventually, testConfig, type Harness, type Seeded } from '../helpers/harness';

const RESERVE = 10;
let fake: FakeModelServer;
let h: Harness;

beforeAll(async () => {
  fake = await startFakeModelServer();
  h = await createHarness({
    OPENAI_BASE_URL: fake.baseURL,
    OPENAI_MODEL: 'test-model',
    MODEL_TIMEOUT_MS: '1000',
    RESERVE_CREDITS_PER_EVENT: String(RESERVE),
    MODEL_PRICES: '{"test-model":{"prompt_per_1k":2,"completion_per_1k":5}}',
    CREDITS_PER_RUNTIME_SECOND: '1',
  });
});
afterAll(async () => {
  await h?.close();
  await fake?.close();
});
beforeEach(() => fake.reset());

const send = (acct: Seeded, key?: string, employeeId = acct.employeeId) => {
  const req = h.http.post('/api/webhook/').set(acct.auth);
  if (key) req.set('Idempotency-Key', key);
  return req.send({ employee_id: employeeId, event: 'order.completed', payload: 'Order #1234 placed.' });
};

const kinds = (postings: Posting[]) => postings.map((p) => p.kind);

/** The ledger adds up, nothing is held, and the balance is what the test expects. */
async function expectSettled(accountId: string, balance: number): Promise<void> {
  const snapshot = await h.ledger.snapshot(accountId);
  expect(verifySnapshot(accountId, snapshot)).toMatchObject({ ok: true, problems: [] });
  expect({ balance: snapshot.balance, reserved: snapshot.reserved, open: snapshot.open }).toEqual({ balance, reserved: 0, open: [] });
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

  it('answers 404 before 402: an unknown employee is the first thing to fix', async () => {
    const acct = await h.seedAccount({ credits: 0 });
    expectError(await send(acct, undefined, randomUUID()), 404, 'EMPLOYEE_NOT_FOUND', 'employee_id');
  });

  it('answers a repeat of an accepted key with 200 duplicate even once the credits are gone', async () => {
    const acct = await h.seedAccount({ credits: RESERVE });
    const key = `dup-${randomUUID()}`;
    const first = await send(acct, key);
    expect(first.status).toBe(202);
    expectError(await send(acct), 402, 'INSUFFICIENT_CREDITS');

    const again = await send(acct, key);
    expect({ status: again.status, body: again.body }).toEqual({ status: 200, body: { status: 'duplicate', message_id: first.body.message_id, employee_id: acct.employeeId } });
    // Redis forgot the window: the running workflow still makes it a duplicate, not a 402.
    await h.redis.del(keys.idempotency(acct.accountId, sha256Hex(key)));
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
    const err = await h.workflowHandle(acct.accountId, res.body.message_id).result().catch((e: unknown) => e);
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
    const app = buildApi(testConfig({ TEMPORAL_ADDRESS: dead, RESERVE_CREDITS_PER_EVENT: String(RESERVE) }), h.redis, connection, createLogger(h.config, 'test-api'));
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

  it('releases the second reservation when a repeat meets the running original', async () => {
    const acct = await h.seedAccount({ credits: 100 });
    const key = `twice-${randomUUID()}`;
    const first = await send(acct, key);
    await h.redis.del(keys.idempotency(acct.accountId, sha256Hex(key)));
    const again = await send(acct, key);
    expect([first.status, again.status]).toEqual([202, 200]);

    await eventually('the original settled', async () => ((await h.ledger.chargeFor(acct.accountId, first.body.message_id)) ? true : undefined));
    const postings = await h.ledger.postings(acct.accountId);
    const repeat = postings.filter((p) => p.messageId !== first.body.message_id && p.kind !== 'topup');
    expect(repeat.map((p) => [p.kind, p.reason])).toEqual([['reserve', undefined], ['release', 'duplicate']]);
    const charges = postings.filter((p) => p.kind === 'charge');
    expect(charges.map((c) => c.messageId)).toEqual([first.body.message_id]);
    await expectSettled(acct.accountId, 100 + charges[0].credits);
  });

  it('gives a settled event’s charge, reservation and release records a 30-day TTL, and never an open reservation or the ledger', async () => {
    const acct = await h.seedAccount({ credits: 100 });
    const res = await send(acct);
    const settled: string = res.body.message_id;
    await h.workflowHandle(acct.accountId, settled).result();
    // Reserved and never started: its record holds the amount a later release gives back.
    const open = randomUUID();
    await h.ledger.reserve({ accountId: acct.accountId, messageId: open, employeeId: acct.employeeId, workflowId: `webhook/${acct.accountId}/msg/${open}`, credits: RESERVE });

    const a = acct.accountId;
    const ttl = (key: string) => h.redis.ttl(key);
    const expiring = await Promise.all([keys.charge(a, settled), keys.reservation(a, settled), keys.released(a, settled)].map(ttl));
    for (const seconds of expiring) expect(seconds).toBeGreaterThan(LEDGER_RECORD_TTL_SECONDS - 60);
    expect(LEDGER_RECORD_TTL_SECONDS).toBe(30 * 24 * 3600);
    // -1: the key exists and has no TTL.
    expect(await Promise.all([keys.reservation(a, open), keys.ledger(a), keys.balance(a), keys.reserved(a), keys.openReservations(a)].map(ttl))).toEqual([-1, -1, -1, -1, -1]);
    const { balance } = await h.ledger.snapshot(a);
    expect(await h.ledger.counters(a)).toEqual({ balance, reserved: RESERVE });
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
      expect({ accepted: statuses.filter((s) => s === 202).length, refused: statuses.filter((s) => s === 402).length }).toEqual({ accepted: FITS, refused: BURST - FITS });
      const held = await idle.ledger.snapshot(acct.accountId);
      expect(held.reserved).toBe(FITS * RESERVE);
      expect(held.reserved).toBeLessThanOrEqual(held.balance);

      await idle.startWorker();
      const before = held.balance;
      await eventually('every accepted event settled', async () => ((await idle.ledger.reserved(acct.accountId)) === 0 ? true : undefined), 60_000);
      const snapshot = await idle.ledger.snapshot(acct.accountId);
      expect(verifySnapshot(acct.accountId, snapshot)).toMatchObject({ ok: true, problems: [] });
      const charged = snapshot.postings.filter((p) => p.kind === 'charge').map((p) => p.messageId);
      expect(charged.sort()).toEqual([...accepted].sort());
      const spent = snapshot.postings.filter((p) => p.kind === 'charge').reduce((sum, p) => sum - p.credits, 0);
      expect(snapshot.balance).toBe(before - spent);
      // Each inbox event costs less than its reservation: the balance never goes below zero.
      expect(snapshot.balance).toBeGreaterThanOrEqual(0);
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
    const snapshot = await h.ledger.snapshot(acct.accountId);
    expect(verifySnapshot(acct.accountId, snapshot)).toMatchObject({ ok: true, problems: [] });
    const charged = snapshot.postings.filter((p) => p.kind === 'charge').map((p) => p.messageId!);
    expect(new Set(charged).size).toBe(charged.length);
    expect(charged.sort()).toEqual([...accepted].sort());
    expect(snapshot.balance).toBeGreaterThanOrEqual(0);
  }, 120_000);
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

async function post(url: string, acct: Seeded, payload: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { ...acct.auth, 'Content-Type': 'application/json' },
    body: JSON.stringify({ employee_id: acct.employeeId, payload }),
  });
  return { status: res.status, body: await res.json() };
}
