import { debitedMessageIds, repeated } from '../helpers/ledger-checks';
import {
  awaitCompletedInCluster,
  burstOverApis,
  child,
  expectAcceptedSettledOnce,
  reportCluster,
  supervisorLog,
  untilHealthy,
  untilRestarted,
  useCluster,
} from './cluster-stack';

const c = useCluster();

describe('cluster drill: the Temporal server SIGKILLed mid-burst', () => {
  it('is restarted on its PostgreSQL; every accepted event finishes, each charged once; refused requests leave nothing behind', async () => {
    const victim = await child('temporal');
    let atKill: { accepted: string[]; charged: Set<string> } | undefined;
    let kill: Promise<void> | undefined;
    const acceptedSoFar: string[] = [];
    const burst = await burstOverApis(c, 400, {
      label: 'cluster.temporal-kill',
      concurrency: 16,
      pauseAfterRefusalMs: 250,
      onAnswer: (done, answer) => {
        if (answer.status === 202) acceptedSoFar.push(answer.messageId!);
        if (done !== 150) return;
        kill = (async () => {
          atKill = { accepted: [...acceptedSoFar], charged: new Set(await debitedMessageIds(c.h.ledger, c.acct.accountId)) };
          process.kill(victim.pid!, 'SIGKILL');
        })();
      },
    });
    await kill;
    const restarted = await untilRestarted('temporal', victim.restarts);
    await untilHealthy();
    // After the restart the APIs accept again.
    const after = await burstOverApis(c, 50, { label: 'cluster.temporal-kill.after', concurrency: 8 });
    const accepted = [...burst.accepted, ...after.accepted];

    const completed = await awaitCompletedInCluster(c, accepted);
    const debited = await debitedMessageIds(c.h.ledger, c.acct.accountId);
    const unsettledAtKill = atKill!.accepted.filter((id) => !atKill!.charged.has(id));
    const logLine = supervisorLog()
      .split('\n')
      .find((line) => line.includes('temporal exited (signal SIGKILL); restarting in'));
    reportCluster('Temporal server SIGKILLed mid-burst', {
      sent: 450,
      accepted: accepted.length,
      refused_502: burst.statuses[502] ?? 0,
      accepted_after_restart: after.accepted.length,
      unsettled_at_kill: unsettledAtKill.length,
      completed: completed.length,
      charged: debited.length,
      charged_twice: repeated(debited).length,
    });
    process.stdout.write(`[cluster] supervisor: ${logLine?.replace(/^\S+ /, '')}\n`);

    expect(logLine).toBeDefined();
    expect(restarted.pid).not.toBe(victim.pid);
    expect(Object.keys(burst.statuses).filter((s) => s !== '202' && s !== '502')).toEqual([]);
    expect(after.statuses).toEqual({ 202: 50 });
    expect(unsettledAtKill.length).toBeGreaterThan(0);
    expect(completed.sort()).toEqual([...accepted].sort());
    expect(debited.sort()).toEqual([...accepted].sort());
    // No 502 left a charge; what a 502 had reserved was given back (by the API, or by reconcile).
    const settlement = await expectAcceptedSettledOnce(c, accepted);
    reportCluster('  refused requests that had reserved credits', {
      released_by_api: settlement.releasedByApi,
      released_by_reconcile: settlement.releasedByReconcile,
    });
  });
});
