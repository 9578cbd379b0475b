import { randomUUID } from 'node:crypto';
import { eventWorkflowId } from '../../src/events/workflow-id';
import { postWebhook } from '../helpers/burst';
import { expectSettledExactly, ledgerState } from '../helpers/drill-stack';
import { eventually } from '../helpers/harness';
import { debitedMessageIds, repeated } from '../helpers/ledger-checks';
import { awaitCompletedInCluster, burstOverApis, reportCluster, useCluster, workerSpread } from './cluster-stack';

const c = useCluster();

describe('cluster drill: two APIs and two workers on the Temporal server on PostgreSQL', () => {
  it('completes 1,000 events sent through both APIs, each charged once, spread over both workers', async () => {
    const began = Date.now();
    const burst = await burstOverApis(c, 1000, { label: 'cluster.burst' });
    const acceptedIn = Date.now() - began;
    const completed = await awaitCompletedInCluster(c, burst.accepted);
    const finishedIn = Date.now() - began;
    const debited = await debitedMessageIds(c.h.ledger, c.acct.accountId);
    const spread = await workerSpread(c, burst.accepted);
    reportCluster('1,000 events over two APIs and two workers', {
      sent: 1000,
      accepted: burst.accepted.length,
      ...Object.fromEntries(Object.entries(burst.acceptedBy).map(([api, n]) => [`via_${api}`, n])),
      completed: completed.length,
      charged: debited.length,
      charged_twice: repeated(debited).length,
      accept_s: (acceptedIn / 1000).toFixed(1),
      complete_s: (finishedIn / 1000).toFixed(1),
      events_per_s: (completed.length / (finishedIn / 1000)).toFixed(1),
    });
    reportCluster('per worker', spread.perWorker);

    expect(burst.statuses).toEqual({ 202: 1000 });
    expect(burst.acceptedBy).toEqual({ 'api-1': 500, 'api-2': 500 });
    expect(completed.sort()).toEqual([...burst.accepted].sort());
    expect(debited.sort()).toEqual([...burst.accepted].sort());
    expectSettledExactly(await ledgerState(c.h, c.acct.accountId), burst.accepted);
    // Both workers took a real share: neither sat idle while the other did the work.
    expect(Object.keys(spread.perWorker).sort()).toEqual(['worker-1', 'worker-2']);
    expect(spread.perWorker['worker-1'] + spread.perWorker['worker-2']).toBe(1000);
    expect(Math.min(spread.perWorker['worker-1'], spread.perWorker['worker-2'])).toBeGreaterThanOrEqual(100);
  });

  it('accepts one Idempotency-Key storm over both APIs once: 200 requests, one event, charged once', async () => {
    const key = `cluster-storm-${randomUUID()}`;
    const before = new Set(await debitedMessageIds(c.h.ledger, c.acct.accountId));
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        postWebhook(
          c.h,
          c.acct,
          { employee_id: c.acct.employeeId, event: 'order.completed', payload: 'Order #1 paid.' },
          { to: c.apis[i % 2], idempotencyKey: key },
        ),
      ),
    );
    const accepted = answers.filter((a) => a.status === 202);
    const duplicates = answers.filter((a) => a.status === 200 && a.body.status === 'duplicate');
    const messageId = accepted[0]?.body.message_id;
    const charges = await eventually(
      'the storm event charged',
      async () => {
        const fresh = (await debitedMessageIds(c.h.ledger, c.acct.accountId)).filter((id) => !before.has(id));
        return fresh.length ? fresh : undefined;
      },
      120_000,
    );
    const records = await c.h.db.query<{ id: string }>('SELECT id FROM messages WHERE account_id = $1 AND workflow_id = $2', [
      c.acct.accountId,
      eventWorkflowId(c.acct.accountId, '', key),
    ]);
    reportCluster('Idempotency-Key storm over two APIs', {
      sent: 200,
      accepted: accepted.length,
      duplicates: duplicates.length,
      other: 200 - accepted.length - duplicates.length,
      charged: charges.length,
    });
    expect(accepted).toHaveLength(1);
    expect(duplicates).toHaveLength(199);
    expect(new Set(duplicates.map((d) => d.body.message_id))).toEqual(new Set([messageId]));
    expect(charges).toEqual([messageId]);
    expect(records.rows.map((r) => r.id)).toEqual([messageId]);
    const state = await ledgerState(c.h, c.acct.accountId);
    expect(state.openReservations).toEqual([]);
    expect(state.verify.problems).toEqual([]);
  });
});
