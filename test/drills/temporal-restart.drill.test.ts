import { drillOutcome, eventsInFlight, expectEachSettledOnce, useDrillStack } from '../helpers/drill-stack';
import { reportDrill } from '../helpers/ledger-checks';
import { privateTemporal } from '../helpers/private-stack';

const stack = useDrillStack('temporal-restart', {
  fakeModel: true,
  service: privateTemporal,
  overrides: (temporal) => ({ TEMPORAL_ADDRESS: temporal.address }),
});

describe('drill: Temporal dev server killed and restarted on its file database', () => {
  it('finishes every accepted event after the restart, each charged once', async () => {
    const { h, acct, service: temporal } = stack;
    const { accepted, worker } = await eventsInFlight(stack, 100, { hangMs: 200, calls: 20 });

    await temporal.kill('SIGKILL');
    await temporal.restart();

    const outcome = await drillOutcome(h, acct, accepted);
    reportDrill('Temporal SIGKILL + restart', { accepted: accepted.length, ...outcome.counts });
    await expectEachSettledOnce(h, acct, accepted, outcome);
    await worker.stop();
  }, 180_000);
});
