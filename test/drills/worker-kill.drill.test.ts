import { drillOutcome, eventsInFlight, expectEachSettledOnce, useDrillStack } from '../helpers/drill-stack';
import { reportDrill } from '../helpers/ledger-checks';

const stack = useDrillStack('worker-kill', { fakeModel: true });

describe('drill: worker SIGKILL with 200 events in flight', () => {
  it('loses no accepted event and charges none twice after a restart', async () => {
    const { h, acct, fake } = stack;
    const { accepted, worker: first } = await eventsInFlight(stack, 200, { hangMs: 400, calls: 40 });
    await first.stop('SIGKILL');
    const second = await stack.startWorker();

    const outcome = await drillOutcome(h, acct, accepted);
    reportDrill('worker SIGKILL', { accepted: accepted.length, ...outcome.counts, model_calls: fake.requests.length });
    await expectEachSettledOnce(h, acct, accepted, outcome);
    const received = (await h.memory.inbox(acct.employeeId, 1000)).filter((e) => e.direction === 'received');
    expect(received).toHaveLength(200);
    await second.stop();
  }, 180_000);
});
