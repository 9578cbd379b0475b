import { awaitCompleted, postBurst } from '../helpers/burst';
import { expectSettledExactly, ledgerState, useDrillStack } from '../helpers/drill-stack';
import { debitedMessageIds, repeated, reportDrill } from '../helpers/ledger-checks';
import { privateTemporal, type RestartableService } from '../helpers/private-stack';

let temporal: RestartableService;
beforeAll(async () => {
  temporal = await privateTemporal();
}, 60_000);
afterAll(() => temporal?.stop());
const stack = useDrillStack('temporal-restart', { fakeModel: true, overrides: () => ({ TEMPORAL_ADDRESS: temporal.address }) });

describe('drill: Temporal dev server killed and restarted on its file database', () => {
  it('finishes every accepted event after the restart, each charged once', async () => {
    const { h, acct, fake } = stack;
    fake.setDefault({ kind: 'hang', ms: 200 });
    const { accepted } = await postBurst(h, acct, 100);
    expect(accepted).toHaveLength(100);
    const worker = await stack.startWorker();
    await fake.waitForRequests(20, 60_000);

    await temporal.kill('SIGKILL');
    await temporal.restart();

    const completed = await awaitCompleted(h, acct, accepted);
    const debited = await debitedMessageIds(h.ledger, acct.accountId);
    reportDrill('Temporal SIGKILL + restart', {
      accepted: accepted.length,
      processed: completed.length,
      charged: debited.length,
      charged_twice: repeated(debited).length,
    });
    expect(completed.sort()).toEqual([...accepted].sort());
    expect(debited.sort()).toEqual([...accepted].sort());
    expectSettledExactly(await ledgerState(h, acct.accountId), accepted);
    await worker.stop();
  }, 180_000);
});
