import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { reconcile } from '../../src/billing/reconcile';
import { verifySnapshot } from '../../src/billing/verify';
import { keys } from '../../src/stores/keys';
import { Ledger, type LedgerSnapshot, type Posting } from '../../src/stores/ledger';
import { startFakeModelServer, type FakeModelServer } from '../helpers/fake-model-server';
import { createHarness, eventually, type Harness, type Seeded } from '../helpers/harness';
import { runCli } from '../helpers/run-cli';

let fake: FakeModelServer;
let h: Harness;

beforeAll(async () => {
  fake = await startFakeModelServer();
  h = await createHarness({ OPENAI_BASE_URL: fake.baseURL, OPENAI_MODEL: 'test-model', MODEL_TIMEOUT_MS: '1000' });
});
afterAll(async () => {
  await h?.close();
  await fake?.close();
});

const period = () => ({ from: new Date(Date.now() - 10 * 60_000), to: new Date(Date.now() + 60_000) });

/** Sends `n` events (one with a key, so its workflow stays open for the window) and waits until all are charged and visible. */
async function settledEvents(acct: Seeded, n: number): Promise<string[]> {
  const responses = await Promise.all(
    Array.from({ length: n }, (_, i) => {
      const req = h.http.post('/api/webhook/').set(acct.auth);
      if (i === 0) req.set('Idempotency-Key', `reconcile-${randomUUID()}`);
      return req.send({ employee_id: acct.employeeId, event: 'order.completed', payload: `order ${i}` });
    }),
  );
  const ids = responses.map((r) => r.body.message_id as string);
  await eventually('charged', async () => ((await Promise.all(ids.map((id) => h.ledger.chargeFor(acct.accountId, id)))).every(Boolean) ? true : undefined));
  const query = `AccountId = '${acct.accountId}'`;
  await eventually('visible in Temporal', async () => ((await listed(query)) === n ? true : undefined));
  return ids;
}

/** Workflows a visibility query lists. (The dev server's count over-counts a running workflow whose search attributes changed.) */
async function listed(query: string): Promise<number> {
  let n = 0;
  for await (const _ of h.client.workflow.list({ query })) n += 1;
  return n;
}

/**
 * Removes a charge as if it had never been posted: the posting out of the list, its record gone,
 * and the balance counter given back, so that `credits verify` still passes and only a comparison
 * with Temporal can tell.
 */
async function deleteCharge(accountId: string, messageId: string): Promise<Posting> {
  const raw = (await h.redis.lrange(keys.ledger(accountId), 0, -1)).find((r) => {
    const p = JSON.parse(r) as Posting;
    return p.kind === 'charge' && p.messageId === messageId;
  })!;
  const posting = JSON.parse(raw) as Posting;
  await h.redis.multi().lrem(keys.ledger(accountId), 1, raw).del(keys.charge(accountId, messageId)).incrby(keys.balance(accountId), -posting.credits).exec();
  return posting;
}

/**
 * The ledger as reconcile sees it when an event settles after the reads it starts with: the snapshot
 * taken before the settlement and, with `chargeReadEarly`, the charge record read before it too.
 */
class LateLedger extends Ledger {
  constructor(redis: Redis, private readonly before: LedgerSnapshot, private readonly chargeReadEarly = false) {
    super(redis);
  }

  override async snapshot(): Promise<LedgerSnapshot> {
    return this.before;
  }

  override async chargeFor(accountId: string, messageId: string): Promise<Posting | undefined> {
    return this.chargeReadEarly ? undefined : super.chargeFor(accountId, messageId);
  }
}

describe('billing reconcile', () => {
  it('finds a charge deleted from the ledger, repairs it exactly once, and the ledger verifies before and after', async () => {
    const acct = await h.seedAccount({ credits: 500 });
    const ids = await settledEvents(acct, 4);
    const balance = await h.ledger.balance(acct.accountId);
    const clean = await runCli(['billing', 'reconcile', '--account', acct.accountId, '--json']);
    expect(clean.code).toBe(0);
    expect(clean.json).toMatchObject({ ok: true, workflows: 4, matched: 4, missing: [] });

    const removed = await deleteCharge(acct.accountId, ids[0]);
    expect((await runCli(['credits', 'verify', '--account', acct.accountId])).code).toBe(0);

    const found = await runCli(['billing', 'reconcile', '--account', acct.accountId, '--json']);
    expect(found.code).toBe(1);
    expect(found.json).toMatchObject({ ok: false, matched: 3, missing: [{ message_id: ids[0], credits: -removed.credits, repaired: false }] });

    const repaired = await runCli(['billing', 'reconcile', '--account', acct.accountId, '--repair', '--json']);
    expect(repaired.code).toBe(0);
    expect(repaired.json).toMatchObject({ ok: true, missing: [{ message_id: ids[0], repaired: true }] });
    const restored = await h.ledger.chargeFor(acct.accountId, ids[0]);
    expect(restored).toEqual({ ...removed, repairedAt: expect.any(String) });
    expect(await h.ledger.balance(acct.accountId)).toBe(balance);
    const verified = await runCli(['credits', 'verify', '--account', acct.accountId, '--json']);
    expect(verified).toMatchObject({ code: 0, json: { ok: true } });

    const again = await runCli(['billing', 'reconcile', '--account', acct.accountId, '--repair', '--json']);
    expect(again.json).toMatchObject({ ok: true, matched: 4, missing: [] });
    const charges = (await h.ledger.postings(acct.accountId)).filter((p) => p.kind === 'charge');
    expect(charges.map((c) => c.messageId).sort()).toEqual([...ids].sort());
    expect(await h.ledger.balance(acct.accountId)).toBe(balance);
  });

  it('posts a repair once even when two repairs race', async () => {
    const acct = await h.seedAccount({ credits: 100 });
    const [id] = await settledEvents(acct, 1);
    await deleteCharge(acct.accountId, id);
    const runs = await Promise.all([1, 2, 3].map(() => reconcile(h.client, h.ledger, { accountId: acct.accountId, ...period(), repair: true, staleAfterMs: 60_000 })));
    expect(runs.map((r) => r.missing.filter((m) => m.repaired).length).sort()).toEqual([0, 0, 1]);
    expect((await h.ledger.postings(acct.accountId)).filter((p) => p.kind === 'charge')).toHaveLength(1);
  });

  it('leaves a failed event uncharged and its reservation released', async () => {
    const acct = await h.seedAccount({ credits: 100 });
    fake.enqueue({ kind: 'status', status: 400 });
    const res = await h.http.post('/api/webhook/').set(acct.auth).send({ employee_id: acct.employeeId, payload: 'rejected' });
    await h.workflowHandle(acct.accountId, res.body.message_id).result().catch(() => undefined);
    await eventually('visible', async () => ((await listed(`AccountId = '${acct.accountId}' AND ExecutionStatus = 'Failed'`)) === 1 ? true : undefined));
    const result = await reconcile(h.client, h.ledger, { accountId: acct.accountId, ...period(), repair: true, staleAfterMs: 0 });
    expect(result).toMatchObject({ ok: true, workflows: 1, uncharged: 1, missing: [], stale_reservations: [] });
  });

  it('releases a reservation whose workflow never started, once it is stale, and keeps one still in flight', async () => {
    const acct = await h.seedAccount({ credits: 100 });
    const orphan = randomUUID();
    // The API reserved, then died before starting the workflow.
    await h.ledger.reserve({ accountId: acct.accountId, messageId: orphan, employeeId: acct.employeeId, workflowId: `webhook/${acct.accountId}/msg/${orphan}`, credits: 10 });
    const idle = await createHarness({}, { worker: false });
    try {
      // An accepted event no worker has picked up yet: its workflow runs, so its reservation stays.
      const waiting = await idle.seedAccount({ credits: 100 });
      const res = await idle.http.post('/api/webhook/').set(waiting.auth).send({ employee_id: waiting.employeeId, payload: 'queued' });
      const inFlight = await reconcile(h.client, h.ledger, { accountId: waiting.accountId, ...period(), repair: true, staleAfterMs: 0 });
      expect(inFlight).toMatchObject({ ok: true, stale_reservations: [] });
      expect(await idle.ledger.reserved(waiting.accountId)).toBe(10);
      await h.client.workflow.getHandle(`webhook/${waiting.accountId}/msg/${res.body.message_id}`).terminate('test');
    } finally {
      await idle.close();
    }

    const young = await reconcile(h.client, h.ledger, { accountId: acct.accountId, ...period(), repair: true, staleAfterMs: 60_000 });
    expect(young.stale_reservations).toEqual([]);
    const report = await reconcile(h.client, h.ledger, { accountId: acct.accountId, ...period(), repair: false, staleAfterMs: 0 });
    expect(report).toMatchObject({ ok: false, stale_reservations: [{ message_id: orphan, why: 'never started', released: false }] });
    const repaired = await reconcile(h.client, h.ledger, { accountId: acct.accountId, ...period(), repair: true, staleAfterMs: 0 });
    expect(repaired).toMatchObject({ ok: true, stale_reservations: [{ message_id: orphan, why: 'never started', released: true }] });
    expect(await h.ledger.reserved(acct.accountId)).toBe(0);
    const release = (await h.ledger.postings(acct.accountId)).find((p) => p.kind === 'release');
    expect(release).toMatchObject({ messageId: orphan, reserved: -10, reason: 'never started' });
  });

  it('releases the reservation of a workflow terminated before it settled', async () => {
    const idle = await createHarness({}, { worker: false });
    try {
      const acct = await idle.seedAccount({ credits: 100 });
      const res = await idle.http.post('/api/webhook/').set(acct.auth).send({ employee_id: acct.employeeId, payload: 'never processed' });
      await idle.workflowHandle(acct.accountId, res.body.message_id).terminate('operator');
      const result = await reconcile(h.client, h.ledger, { accountId: acct.accountId, ...period(), repair: true, staleAfterMs: 0 });
      expect(result.stale_reservations).toEqual([expect.objectContaining({ message_id: res.body.message_id, why: 'workflow closed', released: true })]);
      expect(await h.ledger.reserved(acct.accountId)).toBe(0);
    } finally {
      await idle.close();
    }
  });

  it('matches from the ledger list, and repairs nothing, once an event’s per-message records have expired', async () => {
    const acct = await h.seedAccount({ credits: 100 });
    const [id] = await settledEvents(acct, 1);
    const balance = await h.ledger.balance(acct.accountId);
    // What Redis does LEDGER_RECORD_TTL_SECONDS after the settlement.
    await h.redis.del(keys.charge(acct.accountId, id), keys.reservation(acct.accountId, id), keys.released(acct.accountId, id));

    const repaired = await runCli(['billing', 'reconcile', '--account', acct.accountId, '--repair', '--json']);
    expect(repaired).toMatchObject({ code: 0, json: { ok: true, matched: 1, missing: [], stale_reservations: [] } });
    expect((await h.ledger.postings(acct.accountId)).filter((p) => p.kind === 'charge')).toHaveLength(1);
    expect(await h.ledger.balance(acct.accountId)).toBe(balance);
    expect(await runCli(['credits', 'verify', '--account', acct.accountId, '--json'])).toMatchObject({ code: 0, json: { ok: true } });
  });

  describe('an event that settles while reconcile runs', () => {
    let idle: Harness;
    let acct: Seeded;
    let messageId: string;
    let before: LedgerSnapshot;

    beforeAll(async () => {
      idle = await createHarness({}, { worker: false });
      acct = await idle.seedAccount({ credits: 100 });
      const res = await idle.http.post('/api/webhook/').set(acct.auth).send({ employee_id: acct.employeeId, payload: 'settles mid-reconcile' });
      messageId = res.body.message_id;
      // The snapshot reconcile takes first: the event reserved, not yet charged.
      before = await idle.ledger.snapshot(acct.accountId);
      await idle.startWorker();
      await idle.workflowHandle(acct.accountId, messageId).result();
      await eventually('closed in visibility', async () => ((await listed(`AccountId = '${acct.accountId}' AND ExecutionStatus = 'Completed'`)) === 1 ? true : undefined));
    });
    afterAll(async () => {
      await idle?.close();
    });

    it.each([false, true])('is matched, not missing, and its reservation not stale (repair: %s)', async (repair) => {
      expect({ open: before.open.map((o) => o.messageId), charges: before.postings.filter((p) => p.kind === 'charge') }).toEqual({ open: [messageId], charges: [] });
      const result = await reconcile(idle.client, new LateLedger(idle.redis, before), { accountId: acct.accountId, ...period(), repair, staleAfterMs: 0 });
      expect(result).toMatchObject({ ok: true, workflows: 1, matched: 1, missing: [], mismatched: [], stale_reservations: [] });
    });

    it('is matched when a repair finds the settlement’s posting already there, and nothing is posted twice', async () => {
      const result = await reconcile(idle.client, new LateLedger(idle.redis, before, true), { accountId: acct.accountId, ...period(), repair: true, staleAfterMs: 0 });
      expect(result).toMatchObject({ ok: true, workflows: 1, matched: 1, missing: [], mismatched: [], stale_reservations: [] });
      const snapshot = await idle.ledger.snapshot(acct.accountId);
      expect(verifySnapshot(acct.accountId, snapshot)).toMatchObject({ ok: true, problems: [] });
      const charges = snapshot.postings.filter((p) => p.kind === 'charge');
      expect(charges).toEqual([expect.objectContaining({ messageId })]);
      expect(charges[0].repairedAt).toBeUndefined();
    });
  });
});
