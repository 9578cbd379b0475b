import { postBurst } from '../helpers/burst';
import { drillOutcome, expectEachSettledOnce, ledgerState, useDrillStack } from '../helpers/drill-stack';
import { reportDrill } from '../helpers/ledger-checks';

const stack = useDrillStack('model-outage', { fakeModel: true, worker: true });

describe('drill: model server down for a while, then back', () => {
  it('keeps the events waiting with backoff and completes each once when the model returns', async () => {
    const { h, acct, fake } = stack;
    fake.setDefault({ kind: 'status', status: 503 });
    const { accepted } = await postBurst(h, acct, 30);
    await fake.waitForRequests(60, 60_000); // every event failed at least twice: backing off, not lost
    const duringOutage = fake.requests.length;
    // Nothing is charged while the model is down: every event still holds its reservation.
    const waiting = await ledgerState(h, acct.accountId);
    expect(waiting.charged).toEqual([]);
    expect(waiting.openReservations).toEqual([...accepted].sort());
    fake.setDefault({ kind: 'ok', reply: 'Back.' });

    const outcome = await drillOutcome(h, acct, accepted);
    reportDrill('model outage', { accepted: accepted.length, failed_calls_during_outage: duringOutage, ...outcome.counts });
    await expectEachSettledOnce(h, acct, accepted, outcome);
    const replies = (await h.memory.inbox(acct.employeeId, 1000)).filter((e) => e.direction === 'replied');
    expect(replies).toHaveLength(accepted.length);
  }, 120_000);
});
