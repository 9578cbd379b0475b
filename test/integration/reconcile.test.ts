import { randomUUID } from 'node:crypto';
import { ScheduleNotFoundError, ScheduleOverlapPolicy } from '@temporalio/client';
import type pg from 'pg';
import { reconcile } from '../../src/billing/reconcile';
import type { Posting } from '../../src/domain/billing';
import { Ledger, type OpenReservation } from '../../src/stores/ledger';
import { ensureReconcileSchedule } from '../../src/temporal/schedules';
import { ACCOUNT_ID, EVENT_WORKFLOW, RECONCILE_SCHEDULE_ID } from '../../workflows/contract';
import type { ReconcileSummary } from '../../src/domain/billing';
import type { FakeModelServer } from '../helpers/fake-model-server';
import { createHarness, createHarnessWithFakeModel, eventually, type Harness, type Seeded } from '../helpers/harness';
import { loseCharge, verifyLedger } from '../helpers/ledger-checks';
import { runCli } from '../helpers/run-cli';

// Each test waits for real events to settle and runs the CLI in child processes: slow on a loaded machine.
jest.setTimeout(120_000);
/** How long events may take to settle and show in visibility. */
const SETTLE_MS = 45_000;

let fake: FakeModelServer;
let h: Harness;

beforeAll(async () => {
  ({ h, fake } = await createHarnessWithFakeModel({ OPENAI_MODEL: 'test-model', MODEL_TIMEOUT_MS: '1000' }));
});
afterAll(() => h?.close());

const period = () => ({ from: new Date(Date.now() - 10 * 60_000), to: new Date(Date.now() + 60_000) });

/** Sends `n` events (one with a key) and waits until all are charged and visible. */
async function settledEvents(acct: Seeded, n: number): Promise<string[]> {
  const responses = await Promise.all(
    Array.from({ length: n }, (_, i) => {
      const req = h.http.post('/api/webhook/').set(acct.auth);
      if (i === 0) req.set('Idempotency-Key', `reconcile-${randomUUID()}`);
      return req.send({ employee_id: acct.employeeId, event: 'order.completed', payload: `order ${i}` });
    }),
  );
  const ids = responses.map((r) => r.body.message_id as string);
  await eventually(
    'charged',
    async () => ((await Promise.all(ids.map((id) => h.ledger.chargeFor(acct.accountId, id)))).every(Boolean) ? true : undefined),
    SETTLE_MS,
  );
  const query = `AccountId = '${acct.accountId}'`;
  await eventually('visible in Temporal', async () => ((await listed(query)) === n ? true : undefined), SETTLE_MS);
  return ids;
}

/** Workflows a visibility query lists. (The dev server's count over-counts a running workflow whose search attributes changed.) */
async function listed(query: string): Promise<number> {
  let n = 0;
  for await (const _ of h.client.workflow.list({ query })) n += 1;
  return n;
}

/** Loses a charge as a restore from an old backup would (see loseCharge): `credits verify` still passes. */
const deleteCharge = (accountId: string, messageId: string): Promise<Posting> => loseCharge(h.db, h.ledger, accountId, messageId);

/** What reconcile reads first, taken before an event settled: its open reservations and its charges. */
interface EarlyReads {
  open: OpenReservation[];
  charges: Map<string, Posting>;
}

/**
 * The ledger as reconcile sees it when an event settles after the reads it starts with: the batch
 * charge lookup and the open reservations as they were before the settlement and, with
 * `chargeReadEarly`, the single charge lookup before it too.
 */
class LateLedger extends Ledger {
  constructor(
    db: pg.Pool,
    private readonly before: EarlyReads,
    private readonly chargeReadEarly = false,
  ) {
    super(db);
  }

  override async chargesFor(): Promise<Map<string, Posting>> {
    return this.before.charges;
  }

  override async openReservations(): Promise<OpenReservation[]> {
    return this.before.open;
  }

  override async chargeFor(accountId: string, messageId: string): Promise<Posting | undefined> {
    return this.chargeReadEarly ? undefined : super.chargeFor(accountId, messageId);
  }
}

describe('billing reconcile', () => {
  it('moves no money for runs started on Temporal by hand: a memo claiming a credit of +1,000,000, or a charge of −1,000,000 for a message the account never reserved', async () => {
    const acct = await h.seedAccount({ credits: 100 });
    const forge = async (credits: number) => {
      const messageId = randomUUID();
      const posting: Posting = { id: randomUUID(), kind: 'charge', at: new Date().toISOString(), credits, messageId, employeeId: acct.employeeId };
      // A task queue no worker polls: the run stays as started, with the memo it was given.
      await h.client.workflow.start(EVENT_WORKFLOW, {
        taskQueue: `forged-${randomUUID()}`,
        workflowId: `forged/${messageId}`,
        args: [{ messageId, accountId: acct.accountId, employeeId: acct.employeeId, payload: 'x', requestId: 'forged', receivedAt: Date.now() }],
        memo: {
          messageId,
          employeeId: acct.employeeId,
          requestId: 'forged',
          idempotencyKey: null,
          receivedAt: new Date().toISOString(),
          dedupUntil: null,
          settled: true,
          charge: posting,
        },
        typedSearchAttributes: [{ key: ACCOUNT_ID, value: acct.accountId }],
      });
      return messageId;
    };
    const credit = await forge(1_000_000);
    const debit = await forge(-1_000_000);
    const report = await eventually('visibility to list both', async () => {
      const r = await reconcile(h.runs, h.ledger, { accountId: acct.accountId, ...period(), repair: true, staleAfterMs: 60_000 });
      return r.refused.length === 2 ? r : undefined;
    });
    expect(report.refused).toEqual(
      [
        { message_id: credit, workflow_id: `forged/${credit}`, why: 'not a debit' },
        { message_id: debit, workflow_id: `forged/${debit}`, why: 'no reservation in this account' },
      ].sort((x, y) => (x.message_id < y.message_id ? -1 : 1)),
    );
    expect(report).toMatchObject({ ok: false, missing: [] });
    expect(await h.ledger.balance(acct.accountId)).toBe(100);
    expect((await h.ledger.postings(acct.accountId)).map((p) => p.kind)).toEqual(['topup']);
    // Gone from Temporal, so the scheduled reconcile over every account (below) does not meet them.
    for (const id of [credit, debit]) {
      await h.client.workflowService.deleteWorkflowExecution({ namespace: h.config.TEMPORAL_NAMESPACE, workflowExecution: { workflowId: `forged/${id}` } });
    }
    await eventually('the forged runs out of visibility', async () =>
      (await h.runs.recorded(acct.accountId, period().from, period().to)).length === 0 ? true : undefined,
    );
  });

  it('finds a charge lost to a restore from an old backup, repairs it exactly once, and the ledger verifies before and after', async () => {
    const acct = await h.seedAccount({ credits: 500 });
    const ids = await settledEvents(acct, 4);
    const balance = await h.ledger.balance(acct.accountId);
    const clean = await runCli(['billing', 'reconcile', '--account', acct.accountId, '--json']);
    expect(clean.code).toBe(0);
    expect(clean.json).toMatchObject({ ok: true, workflows: 4, matched: 4, missing: [] });

    const removed = await deleteCharge(acct.accountId, ids[0]);
    expect(await h.ledger.chargeFor(acct.accountId, ids[0])).toBeUndefined();
    expect(await h.ledger.balance(acct.accountId)).toBe(balance - removed.credits);
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

    const postingsAfterRepair = (await h.ledger.postings(acct.accountId)).length;
    const again = await runCli(['billing', 'reconcile', '--account', acct.accountId, '--repair', '--json']);
    expect(again).toMatchObject({ code: 0, json: { ok: true, matched: 4, missing: [] } });
    const postings = await h.ledger.postings(acct.accountId);
    expect(postings).toHaveLength(postingsAfterRepair);
    const charges = postings.filter((p) => p.kind === 'charge');
    expect(charges.map((c) => c.messageId).sort()).toEqual([...ids].sort());
    const { rows } = await h.db.query(
      `SELECT count(*)::int AS n, count(repaired_at)::int AS repaired FROM postings WHERE account_id = $1 AND message_id = $2 AND kind = 'charge'`,
      [acct.accountId, ids[0]],
    );
    expect(rows).toEqual([{ n: 1, repaired: 1 }]);
    expect(await h.ledger.balance(acct.accountId)).toBe(balance);
    expect((await verifyLedger(h.ledger, acct.accountId)).result).toMatchObject({ ok: true, problems: [] });
  });

  it('posts a repair once even when two repairs race', async () => {
    const acct = await h.seedAccount({ credits: 100 });
    const [id] = await settledEvents(acct, 1);
    await deleteCharge(acct.accountId, id);
    const runs = await Promise.all(
      [1, 2, 3].map(() => reconcile(h.runs, h.ledger, { accountId: acct.accountId, ...period(), repair: true, staleAfterMs: 60_000 })),
    );
    expect(runs.map((r) => r.missing.filter((m) => m.repaired).length).sort()).toEqual([0, 0, 1]);
    expect((await h.ledger.postings(acct.accountId)).filter((p) => p.kind === 'charge')).toHaveLength(1);
  });

  it('leaves a failed event uncharged and its reservation released', async () => {
    const acct = await h.seedAccount({ credits: 100 });
    fake.enqueue({ kind: 'status', status: 400 });
    const res = await h.http.post('/api/webhook/').set(acct.auth).send({ employee_id: acct.employeeId, payload: 'rejected' });
    await h
      .workflowHandle(acct.accountId, res.body.message_id)
      .result()
      .catch(() => undefined);
    await eventually('visible', async () => ((await listed(`AccountId = '${acct.accountId}' AND ExecutionStatus = 'Failed'`)) === 1 ? true : undefined));
    const result = await reconcile(h.runs, h.ledger, { accountId: acct.accountId, ...period(), repair: true, staleAfterMs: 0 });
    expect(result).toMatchObject({ ok: true, workflows: 1, uncharged: 1, missing: [], stale_reservations: [] });
  });

  it('releases a reservation whose workflow never started, once it is stale, and keeps one still in flight', async () => {
    const acct = await h.seedAccount({ credits: 100 });
    const orphan = randomUUID();
    // The API reserved, then died before starting the workflow.
    await h.ledger.reserve({
      accountId: acct.accountId,
      messageId: orphan,
      employeeId: acct.employeeId,
      workflowId: `webhook/${acct.accountId}/msg/${orphan}`,
      credits: 10,
      at: new Date(),
    });
    const idle = await createHarness({}, { worker: false });
    try {
      // An accepted event no worker has picked up yet: its workflow runs, so its reservation stays.
      const waiting = await idle.seedAccount({ credits: 100 });
      const res = await idle.http.post('/api/webhook/').set(waiting.auth).send({ employee_id: waiting.employeeId, payload: 'queued' });
      const inFlight = await reconcile(h.runs, h.ledger, { accountId: waiting.accountId, ...period(), repair: true, staleAfterMs: 0 });
      expect(inFlight).toMatchObject({ ok: true, stale_reservations: [] });
      expect(await idle.ledger.reserved(waiting.accountId)).toBe(10);
      await h.client.workflow.getHandle(`webhook/${waiting.accountId}/msg/${res.body.message_id}`).terminate('test');
    } finally {
      await idle.close();
    }

    const young = await reconcile(h.runs, h.ledger, { accountId: acct.accountId, ...period(), repair: true, staleAfterMs: 60_000 });
    expect(young.stale_reservations).toEqual([]);
    const report = await reconcile(h.runs, h.ledger, { accountId: acct.accountId, ...period(), repair: false, staleAfterMs: 0 });
    expect(report).toMatchObject({ ok: false, stale_reservations: [{ message_id: orphan, why: 'never started', released: false }] });
    const repaired = await reconcile(h.runs, h.ledger, { accountId: acct.accountId, ...period(), repair: true, staleAfterMs: 0 });
    expect(repaired).toMatchObject({ ok: true, stale_reservations: [{ message_id: orphan, why: 'never started', released: true }] });
    expect(await h.ledger.reserved(acct.accountId)).toBe(0);
    const release = (await h.ledger.postings(acct.accountId)).find((p) => p.kind === 'release');
    expect(release).toMatchObject({ messageId: orphan, reserved: -10, reason: 'never started' });
    expect(await h.ledger.isReserved(acct.accountId, orphan)).toBe(false);
    expect((await verifyLedger(h.ledger, acct.accountId)).result).toMatchObject({ ok: true, open_reservations: 0, problems: [] });
    const second = await reconcile(h.runs, h.ledger, { accountId: acct.accountId, ...period(), repair: true, staleAfterMs: 0 });
    expect(second).toMatchObject({ ok: true, stale_reservations: [] });
    expect((await h.ledger.postings(acct.accountId)).filter((p) => p.kind === 'release')).toHaveLength(1);
  });

  it('releases the reservation of a workflow terminated before it settled', async () => {
    const idle = await createHarness({}, { worker: false });
    try {
      const acct = await idle.seedAccount({ credits: 100 });
      const res = await idle.http.post('/api/webhook/').set(acct.auth).send({ employee_id: acct.employeeId, payload: 'never processed' });
      await idle.workflowHandle(acct.accountId, res.body.message_id).terminate('operator');
      const result = await reconcile(h.runs, h.ledger, { accountId: acct.accountId, ...period(), repair: true, staleAfterMs: 0 });
      expect(result.stale_reservations).toEqual([expect.objectContaining({ message_id: res.body.message_id, why: 'workflow closed', released: true })]);
      expect(await h.ledger.reserved(acct.accountId)).toBe(0);
    } finally {
      await idle.close();
    }
  });

  it('matches a settled event with the charge in the ledger, and a repair posts nothing and moves no counter', async () => {
    const acct = await h.seedAccount({ credits: 100 });
    const [id] = await settledEvents(acct, 1);
    const counters = await h.ledger.counters(acct.accountId);
    const postings = await h.ledger.postings(acct.accountId);
    expect(postings.map((p) => p.kind)).toEqual(['topup', 'reserve', 'charge', 'release']);

    const repaired = await runCli(['billing', 'reconcile', '--account', acct.accountId, '--repair', '--json']);
    expect(repaired).toMatchObject({ code: 0, json: { ok: true, matched: 1, missing: [], stale_reservations: [] } });
    expect(await h.ledger.postings(acct.accountId)).toEqual(postings);
    expect(await h.ledger.counters(acct.accountId)).toEqual(counters);
    expect((await h.ledger.chargeFor(acct.accountId, id))?.repairedAt).toBeUndefined();
    expect(await runCli(['credits', 'verify', '--account', acct.accountId, '--json'])).toMatchObject({ code: 0, json: { ok: true } });
  });

  describe('an event that settles while reconcile runs', () => {
    let idle: Harness;
    let acct: Seeded;
    let messageId: string;
    let before: EarlyReads;

    beforeAll(async () => {
      idle = await createHarness({}, { worker: false });
      acct = await idle.seedAccount({ credits: 100 });
      const res = await idle.http.post('/api/webhook/').set(acct.auth).send({ employee_id: acct.employeeId, payload: 'settles mid-reconcile' });
      messageId = res.body.message_id;
      // What reconcile reads first: the event reserved, not yet charged.
      before = {
        open: await idle.ledger.openReservations(acct.accountId, new Date(0), new Date(Date.now() + 3_600_000)),
        charges: await idle.ledger.chargesFor(acct.accountId, [messageId]),
      };
      await idle.startWorker();
      await idle.workflowHandle(acct.accountId, messageId).result();
      await eventually('closed in visibility', async () =>
        (await listed(`AccountId = '${acct.accountId}' AND ExecutionStatus = 'Completed'`)) === 1 ? true : undefined,
      );
    });
    afterAll(async () => {
      await idle?.close();
    });

    it.each([false, true])('is matched, not missing, and its reservation not stale (repair: %s)', async (repair) => {
      expect({ open: before.open.map((o) => o.messageId), charges: [...before.charges.values()] }).toEqual({ open: [messageId], charges: [] });
      const result = await reconcile(idle.runs, new LateLedger(idle.db, before), { accountId: acct.accountId, ...period(), repair, staleAfterMs: 0 });
      expect(result).toMatchObject({ ok: true, workflows: 1, matched: 1, missing: [], mismatched: [], stale_reservations: [] });
    });

    it('is matched when a repair finds the settlement’s posting already there, and nothing is posted twice', async () => {
      const result = await reconcile(idle.runs, new LateLedger(idle.db, before, true), {
        accountId: acct.accountId,
        ...period(),
        repair: true,
        staleAfterMs: 0,
      });
      expect(result).toMatchObject({ ok: true, workflows: 1, matched: 1, missing: [], mismatched: [], stale_reservations: [] });
      expect((await verifyLedger(idle.ledger, acct.accountId)).result).toMatchObject({ ok: true, problems: [] });
      const charges = (await idle.ledger.postings(acct.accountId)).filter((p) => p.kind === 'charge');
      expect(charges).toEqual([expect.objectContaining({ messageId })]);
      expect(charges[0].repairedAt).toBeUndefined();
    });
  });
});

describe('the billing-reconcile Schedule', () => {
  const schedule = () => h.client.schedule.getHandle(RECONCILE_SCHEDULE_ID);
  /**
   * Its id is one name on the whole dev server: start from none (a worker process of another test
   * file may have created it, or none did), and leave none behind.
   */
  const removeSchedule = () =>
    schedule()
      .delete()
      .catch((err: unknown) => {
        if (!(err instanceof ScheduleNotFoundError)) throw err;
      });
  beforeAll(removeSchedule);
  afterAll(removeSchedule);

  it('stays one Schedule however often it is ensured, and brings it in line with the latest settings', async () => {
    expect(await ensureReconcileSchedule(h.client, { taskQueue: `elsewhere-${randomUUID()}`, every: '2h' })).toBe('created');
    expect(await ensureReconcileSchedule(h.client, { taskQueue: h.config.TEMPORAL_TASK_QUEUE, every: '1h' })).toBe('updated');
    const described = await schedule().describe();
    expect(described.action).toMatchObject({ type: 'startWorkflow', workflowType: 'reconcileBilling', taskQueue: h.config.TEMPORAL_TASK_QUEUE });
    expect(described.spec.intervals).toEqual([{ every: 3_600_000 }]);
    const listedIds = await eventually('the Schedule listed', async () => {
      const ids: string[] = [];
      for await (const s of h.client.schedule.list()) if (s.scheduleId === RECONCILE_SCHEDULE_ID) ids.push(s.scheduleId);
      return ids.length > 0 ? ids : undefined;
    });
    expect(listedIds).toEqual([RECONCILE_SCHEDULE_ID]);
  });

  it('runs reconcileBilling when triggered: the lost charge is reposted once and the run is recorded in reconcile_runs', async () => {
    await ensureReconcileSchedule(h.client, { taskQueue: h.config.TEMPORAL_TASK_QUEUE, every: '1h' });
    const acct = await h.seedAccount({ credits: 200 });
    const ids = await settledEvents(acct, 2);
    const balance = await h.ledger.balance(acct.accountId);
    const removed = await deleteCharge(acct.accountId, ids[1]);
    expect((await verifyLedger(h.ledger, acct.accountId)).result.ok).toBe(true);

    const triggeredAt = Date.now();
    // ALLOW_ALL: even if the hourly action happens to be running right now, this trigger starts its own run.
    await schedule().trigger(ScheduleOverlapPolicy.ALLOW_ALL);
    const taken = await eventually('the triggered run started', async () =>
      (await schedule().describe()).info.recentActions.find((a) => a.takenAt.getTime() >= triggeredAt - 1_000),
    );
    const { workflowId, firstExecutionRunId } = taken.action.workflow;
    expect(workflowId.startsWith('billing-reconcile')).toBe(true);
    const summary: ReconcileSummary = await h.client.workflow.getHandle(workflowId, firstExecutionRunId).result();
    expect(summary).toMatchObject({ runId: firstExecutionRunId, trigger: 'schedule', ok: true });
    expect(summary.accounts).toBeGreaterThanOrEqual(1);
    expect(summary.repaired).toBeGreaterThanOrEqual(1);

    expect(await h.ledger.chargeFor(acct.accountId, ids[1])).toEqual({ ...removed, repairedAt: expect.any(String) });
    expect(await h.ledger.balance(acct.accountId)).toBe(balance);
    expect((await h.ledger.postings(acct.accountId)).filter((p) => p.kind === 'charge')).toHaveLength(2);
    expect((await verifyLedger(h.ledger, acct.accountId)).result).toMatchObject({ ok: true, problems: [] });

    const { rows } = await h.db.query('SELECT trigger, accounts, workflows, missing, repaired, stale_released, ok, details FROM reconcile_runs WHERE id = $1', [
      firstExecutionRunId,
    ]);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      trigger: 'schedule',
      accounts: summary.accounts,
      workflows: summary.workflows,
      missing: summary.missing,
      repaired: summary.repaired,
      stale_released: summary.staleReleased,
      ok: true,
    });
    const mine = (rows[0].details.findings as Array<{ account_id: string; missing: unknown[] }>).filter((f) => f.account_id === acct.accountId);
    expect(mine).toEqual([
      expect.objectContaining({ ok: true, missing: [expect.objectContaining({ message_id: ids[1], credits: -removed.credits, repaired: true })] }),
    ]);
  });
});
