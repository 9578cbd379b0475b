import { expectKillSurvived, killMidBurst, reportKillDrill, useCluster } from './cluster-stack';

const c = useCluster();

describe('cluster drill: the Temporal server SIGKILLed mid-burst', () => {
  it('is restarted on its PostgreSQL; every accepted event finishes, each charged once; refused requests leave nothing behind', async () => {
    const run = await killMidBurst(c, 'temporal', 'cluster.temporal-kill', async (victim) => {
      process.kill(victim.pid!, 'SIGKILL');
    });
    reportKillDrill('Temporal server SIGKILLed mid-burst', run);

    await expectKillSurvived(c, run);
  });
});
