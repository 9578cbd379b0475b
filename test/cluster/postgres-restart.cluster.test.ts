import { debitedMessageIds, repeated } from '../helpers/ledger-checks';
import {
  awaitCompletedInCluster,
  burstOverApis,
  child,
  expectAcceptedSettledOnce,
  killThroughControl,
  reportCluster,
  supervisorLog,
  untilHealthy,
  untilRestarted,
  useCluster,
} from './cluster-stack';

const c = useCluster();

describe('cluster drill: PostgreSQL (ours and Temporal’s) SIGKILLed and restarted mid-burst', () => {
  it('refuses requests during the outage with 502; Temporal and the workers carry on after the restart; every accepted event settles once', async () => {
    const victim = await child('postgres');
    let atKill: { accepted: string[]; charged: Set<string> } | undefined;
    let kill: Promise<void> | undefined;
    const acceptedSoFar: string[] = [];
    const burst = await burstOverApis(c, 400, {
      label: 'cluster.postgres-restart',
      concurrency: 16,
      pauseAfterRefusalMs: 250,
      onAnswer: (done, answer) => {
        if (answer.status === 202) acceptedSoFar.push(answer.messageId!);
        if (done !== 150) return;
        kill = (async () => {
          atKill = { accepted: [...acceptedSoFar], charged: new Set(await debitedMessageIds(c.h.ledger, c.acct.accountId)) };
          // The postmaster and every backend at once, like a crash of the machine; the supervisor restarts it on the same data.
          await killThroughControl('postgres', 'SIGKILL');
        })();
      },
    });
    await kill;
    const restarted = await untilRestarted('postgres', victim.restarts);
    await untilHealthy();
    const after = await burstOverApis(c, 50, { label: 'cluster.postgres-restart.after', concurrency: 8 });
    const accepted = [...burst.accepted, ...after.accepted];

    const completed = await awaitCompletedInCluster(c, accepted);
    const debited = await debitedMessageIds(c.h.ledger, c.acct.accountId);
    const unsettledAtKill = atKill!.accepted.filter((id) => !atKill!.charged.has(id));
    const temporal = await child('temporal');
    const logLine = supervisorLog()
      .split('\n')
      .find((line) => line.includes('postgres exited (signal SIGKILL); restarting in'));
    reportCluster('PostgreSQL SIGKILLed and restarted mid-burst', {
      sent: 450,
      accepted: accepted.length,
      refused_502: burst.statuses[502] ?? 0,
      accepted_after_restart: after.accepted.length,
      unsettled_at_kill: unsettledAtKill.length,
      completed: completed.length,
      charged: debited.length,
      charged_twice: repeated(debited).length,
      temporal_restarts: temporal.restarts,
    });
    process.stdout.write(`[cluster] supervisor: ${logLine?.replace(/^\S+ /, '')}\n`);

    expect(logLine).toBeDefined();
    expect(restarted.pid).not.toBe(victim.pid);
    expect(Object.keys(burst.statuses).filter((s) => s !== '202' && s !== '502')).toEqual([]);
    expect(burst.statuses[502]).toBeGreaterThan(0);
    expect(after.statuses).toEqual({ 202: 50 });
    expect(unsettledAtKill.length).toBeGreaterThan(0);
    expect(completed.sort()).toEqual([...accepted].sort());
    expect(debited.sort()).toEqual([...accepted].sort());
    const settlement = await expectAcceptedSettledOnce(c, accepted);
    reportCluster('  refused requests that had reserved credits', {
      released_by_api: settlement.releasedByApi,
      released_by_reconcile: settlement.releasedByReconcile,
    });
  });
});
