import { eventually } from '../helpers/harness';
import { awaitCompleted, postBurst } from '../helpers/burst';
import { useDrillStack } from '../helpers/drill-stack';
import { debitedMessageIds, repeated, reportDrill } from '../helpers/ledger-checks';
import { privateRedis, type RestartableService } from '../helpers/private-stack';
import { startService } from '../helpers/processes';

let redis: RestartableService;
beforeAll(async () => {
  redis = await privateRedis();
}, 60_000);
afterAll(() => redis?.stop());
const stack = useDrillStack('redis-restart', { overrides: () => ({ REDIS_URL: redis.address }) });

describe('drill: Redis killed and restarted (AOF) during a burst', () => {
  it('processes every accepted event once; requests during the outage get 502 and are not processed', async () => {
    const { h, acct, taskQueue: TASK_QUEUE } = stack;
    const worker = startService('src/worker.ts', { REDIS_URL: redis.address, TEMPORAL_TASK_QUEUE: TASK_QUEUE });
    let restarting: Promise<void> | undefined;
    const burst = await postBurst(h, acct, 300, {
      concurrency: 8,
      onAnswer: (done) => {
        if (done === 100) restarting = redis.kill('SIGKILL').then(() => redis.restart());
      },
    });
    await restarting;
    // The API's client reconnects by itself; wait until it answers again before checking the ledger.
    await eventually('API client reconnected', async () => ((await h.redis.ping().catch(() => undefined)) ? true : undefined));

    const completed = await awaitCompleted(h, acct, burst.accepted);
    const debited = await debitedMessageIds(h.ledger, acct.accountId);
    reportDrill('Redis SIGKILL + restart', {
      sent: 300,
      accepted: burst.accepted.length,
      refused_502: burst.statuses[502] ?? 0,
      processed: completed.length,
      charged: debited.length,
      charged_twice: repeated(debited).length,
    });
    expect(Object.keys(burst.statuses).sort()).toEqual(expect.arrayContaining(['202']));
    expect(Object.keys(burst.statuses).filter((s) => s !== '202' && s !== '502')).toEqual([]);
    expect(burst.accepted.length).toBeGreaterThanOrEqual(100);
    expect(completed.sort()).toEqual([...burst.accepted].sort());
    expect(debited.sort()).toEqual([...burst.accepted].sort());
    await worker.stop();
  }, 180_000);

  it('brings up a worker while Redis is down, which processes the waiting events once Redis is back', async () => {
    const { h, acct, taskQueue: TASK_QUEUE } = stack;
    const { accepted } = await postBurst(h, acct, 20);
    expect(accepted).toHaveLength(20);
    await redis.kill('SIGKILL');
    const worker = startService('src/worker.ts', { REDIS_URL: redis.address, TEMPORAL_TASK_QUEUE: TASK_QUEUE, LOG_LEVEL: 'info' });
    await eventually('worker polling without Redis', async () => (worker.output.join('').includes('worker polling') ? true : undefined), 30_000).catch(
      (err: Error) => {
        throw new Error(`${err.message}\n${worker.output.join('')}`);
      },
    );
    await redis.restart();
    const completed = await awaitCompleted(h, acct, accepted);
    expect(completed.sort()).toEqual([...accepted].sort());
    await worker.stop();
  }, 120_000);
});
