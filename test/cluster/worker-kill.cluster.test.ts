import { expectSettledExactly, ledgerState } from '../helpers/drill-stack';
import { debitedMessageIds, repeated } from '../helpers/ledger-checks';
import { awaitCompletedInCluster, burstOverApis, child, reportCluster, sigkillLine, untilRestarted, useCluster, workerSpread } from './cluster-stack';

const c = useCluster();

describe('cluster drill: a worker SIGKILLed mid-burst', () => {
  it('is restarted by the supervisor; the other worker and the restarted one finish every accepted event, each charged once', async () => {
    const victim = await child('worker-1');
    let killedAt: { accepted: number; charged: number } | undefined;
    let kill: Promise<void> | undefined;
    const accepted: string[] = [];
    const burst = await burstOverApis(c, 400, {
      label: 'cluster.worker-kill',
      onAnswer: (done, answer) => {
        if (answer.status === 202) accepted.push(answer.messageId!);
        if (done !== 150) return;
        kill = (async () => {
          const charged = (await debitedMessageIds(c.h.ledger, c.acct.accountId)).length;
          killedAt = { accepted: accepted.length, charged };
          process.kill(victim.pid!, 'SIGKILL'); // as `kill -9` from a terminal would
        })();
      },
    });
    await kill;
    const restarted = await untilRestarted('worker-1', victim.restarts);
    const completed = await awaitCompletedInCluster(c, burst.accepted);
    const debited = await debitedMessageIds(c.h.ledger, c.acct.accountId);
    const spread = await workerSpread(c, burst.accepted);
    const logLine = sigkillLine('worker-1');
    reportCluster('worker-1 SIGKILLed mid-burst', {
      sent: 400,
      accepted: burst.accepted.length,
      unsettled_at_kill: killedAt!.accepted - killedAt!.charged,
      retried_on_other_worker: spread.retried,
      completed: completed.length,
      charged: debited.length,
      charged_twice: repeated(debited).length,
      restarts: restarted.restarts - victim.restarts,
    });
    reportCluster('per worker (worker-1 counts both its processes)', spread.perWorker);
    process.stdout.write(`[cluster] supervisor: ${logLine?.replace(/^\S+ /, '')}\n`);

    expect(burst.statuses).toEqual({ 202: 400 });
    expect(logLine).toBeDefined();
    expect(restarted.pid).not.toBe(victim.pid);
    // The kill caught events in flight, and their lost tasks were handed to a live worker.
    expect(killedAt!.accepted - killedAt!.charged).toBeGreaterThan(0);
    expect(spread.retried).toBeGreaterThan(0);
    expect(completed.sort()).toEqual([...burst.accepted].sort());
    expect(debited.sort()).toEqual([...burst.accepted].sort());
    expectSettledExactly(await ledgerState(c.h, c.acct.accountId), burst.accepted);
    expect(spread.perWorker['worker-1'] + spread.perWorker['worker-2']).toBe(400);
    expect(spread.perWorker['worker-2']).toBeGreaterThan(0);
  });
});
