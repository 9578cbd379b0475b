import { awaitCompleted, postBurst } from '../helpers/burst';
import { expectSettledExactly, ledgerState, useDrillStack } from '../helpers/drill-stack';
import { debitedMessageIds, repeated, reportDrill } from '../helpers/ledger-checks';

const stack = useDrillStack('worker-kill', { fakeModel: true });

describe('drill: worker SIGKILL with 200 events in flight', () => {
  it('loses no accepted event and charges none twice after a restart', async () => {
    const { h, acct, fake } = stack;
    fake.setDefault({ kind: 'hang', ms: 400 });
    const { accepted } = await postBurst(h, acct, 200);
    expect(accepted).toHaveLength(200);

    const first = await stack.startWorker();
    await fake.waitForRequests(40, 60_000);
    await first.stop('SIGKILL');
    const second = await stack.startWorker();

    const completed = await awaitCompleted(h, acct, accepted);
    const debited = await debitedMessageIds(h.ledger, acct.accountId);
    reportDrill('worker SIGKILL', {
      accepted: accepted.length,
      processed: completed.length,
      charged: debited.length,
      charged_twice: repeated(debited).length,
      model_calls: fake.requests.length,
    });
    expect(completed.sort()).toEqual([...accepted].sort());
    expect(debited.sort()).toEqual([...accepted].sort());
    expectSettledExactly(await ledgerState(h, acct.accountId), accepted);
    const received = (await h.memory.inbox(acct.employeeId, 1000)).filter((e) => e.direction === 'received');
    expect(received).toHaveLength(200);
    await second.stop();
  }, 180_000);
});
