import { useDrillStack } from '../helpers/drill-stack';
import { quotedEvent, type RecordedRequest } from '../helpers/fake-model-server';
import { eventually } from '../helpers/harness';
import { debitedMessageIds, repeated, reportDrill } from '../helpers/ledger-checks';
import { runCli } from '../helpers/run-cli';
import { employeeQueueWorkflowId } from '../../src/events/workflow-id';
import { EMPLOYEE_CACHE_TTL_MS } from '../../src/stores/employees';

/** A small run size, so the queue continues as new several times within the drill. */
const EVENTS_PER_RUN = 7;
const stack = useDrillStack('ordered-worker-kill', { fakeModel: true, overrides: () => ({ FLOW_EVENTS_PER_RUN: String(EVENTS_PER_RUN) }) });
const EVENTS = 100;

/** The event a model call is for: the last user message is the event's own (memory comes before it). */
const eventOf = (r: RecordedRequest): number => {
  const own = quotedEvent([...r.body.messages].reverse().find((m) => m.role === 'user')?.content ?? '');
  const match = /ordered #(\d+)$/.exec(own);
  if (!match) throw new Error(`not an ordered event: ${own}`);
  return Number(match[1]);
};

describe('drill: an ordered employee under worker SIGKILLs', () => {
  it('runs its events strictly in acceptance order, one at a time, each charged once, while the queue continues as new', async () => {
    const { h, acct, fake } = stack;
    const set = await runCli(['employee', 'update', acct.employeeId, '--mode', 'ordered', '--json']);
    expect(set.code).toBe(0);
    expect(set.json.flow).toEqual({ mode: 'ordered', concurrency: 1 });
    await new Promise((r) => setTimeout(r, EMPLOYEE_CACHE_TTL_MS + 100));
    fake.setDefault({ kind: 'hang', ms: 30 });

    // Accepted with no worker running: every event waits in the queue workflow's history.
    const accepted: string[] = [];
    for (let i = 0; i < EVENTS; i++) {
      const res = await h.http
        .post('/api/webhook/')
        .set(acct.auth)
        .send({ employee_id: acct.employeeId, payload: `ordered #${i}` });
      expect(res.status).toBe(202);
      accepted.push(res.body.message_id);
    }
    const waiting = await h.http.get(`/api/webhook/${accepted[EVENTS - 1]}`).set(acct.auth);
    expect([waiting.body.status, waiting.body.trace_url]).toEqual(['queued', null]);

    let worker = await stack.startWorker();
    for (const calls of [15, 45]) {
      await fake.waitForRequests(calls, 60_000);
      await worker.stop('SIGKILL');
      worker = await stack.startWorker();
    }
    const debited = await eventually(
      'every event charged',
      async () => {
        const ids = await debitedMessageIds(h.ledger, acct.accountId);
        return ids.length >= EVENTS ? ids : undefined;
      },
      120_000,
    );
    await worker.stop();

    // In acceptance order: a killed call may be asked again, but never an earlier event after a later one.
    const order = fake.requests.map(eventOf);
    expect(order.every((event, i) => i === 0 || event >= order[i - 1])).toBe(true);
    expect([...new Set(order)]).toEqual(accepted.map((_, i) => i));
    // One at a time: each event's workflow started after the one before it closed.
    const runs = await Promise.all(accepted.map((id) => h.runs.find(`webhook/${acct.accountId}/msg/${id}`, id)));
    for (let i = 1; i < EVENTS; i++) {
      const before = await runs[i - 1]!.handle.describe();
      const after = await runs[i]!.handle.describe();
      expect({ i, overlap: after.startTime < before.closeTime! }).toEqual({ i, overlap: false });
    }
    expect(repeated(debited)).toEqual([]);
    expect([...debited].sort()).toEqual([...accepted].sort());
    const queueRuns: string[] = [];
    for await (const run of h.client.workflow.list({ query: `WorkflowId = '${employeeQueueWorkflowId(acct.accountId, acct.employeeId)}'` }))
      queueRuns.push(run.runId);
    expect(queueRuns.length).toBeGreaterThanOrEqual(Math.floor(EVENTS / EVENTS_PER_RUN));
    reportDrill('ordered under worker SIGKILL', { accepted: EVENTS, model_calls: fake.requests.length, charged: debited.length, queue_runs: queueRuns.length });
  }, 180_000);
});
