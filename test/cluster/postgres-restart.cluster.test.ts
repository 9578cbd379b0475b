import { child, expectKillSurvived, killMidBurst, killThroughControl, reportKillDrill, useCluster } from './cluster-stack';

const c = useCluster();

describe('cluster drill: PostgreSQL (ours and Temporal’s) SIGKILLed and restarted mid-burst', () => {
  it('refuses requests during the outage with 502; Temporal and the workers carry on after the restart; every accepted event settles once', async () => {
    // The postmaster and every backend at once, like a crash of the machine; the supervisor restarts it on the same data.
    const run = await killMidBurst(c, 'postgres', 'cluster.postgres-restart', () => killThroughControl('postgres', 'SIGKILL'));
    const temporal = await child('temporal');
    reportKillDrill('PostgreSQL SIGKILLed and restarted mid-burst', run, { temporal_restarts: temporal.restarts });

    expect(run.burst.statuses[502]).toBeGreaterThan(0);
    await expectKillSurvived(c, run);
  });
});
