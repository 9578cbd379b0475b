import { eventually } from '../helpers/harness';
import { awaitCompleted, postBurst, postWebhook } from '../helpers/burst';
import { drillOutcome, expectEachSettledOnce, ledgerState, useDrillStack } from '../helpers/drill-stack';
import { reportDrill } from '../helpers/ledger-checks';
import { privateRedis } from '../helpers/private-stack';

/**
 * Redis holds only the rate-limit counters and the Idempotency-Key cache: while it is down the rate
 * limiter cannot answer, so requests get 502 and nothing is accepted for them; the ledger and the
 * message records are in PostgreSQL and the worker does not use Redis at all.
 */
const stack = useDrillStack('redis-restart', { service: privateRedis, overrides: (redis) => ({ REDIS_URL: redis.address }) });

describe('drill: Redis killed and restarted (AOF) during a burst', () => {
  it('processes every accepted event once; requests during the outage get 502 and are not processed', async () => {
    const { h, acct, service: redis } = stack;
    const worker = await stack.startWorker();
    let restarting: Promise<void> | undefined;
    let refused = 0;
    const burst = await postBurst(h, acct, 300, {
      concurrency: 8,
      pauseAfterRefusalMs: 100,
      onAnswer: (done, answer) => {
        if (answer.status === 502) refused++;
        if (done !== 100) return;
        // Down until the burst has met the outage: a restart within milliseconds could slip between requests.
        restarting = redis
          .kill('SIGKILL')
          .then(() => eventually('a request refused while Redis is down', async () => (refused > 0 ? true : undefined), 30_000))
          .then(() => redis.restart());
      },
    });
    await restarting;
    // The API's client reconnects by itself: once it answers again, the API accepts again.
    await eventually('API client reconnected', async () => ((await h.redis.ping().catch(() => undefined)) ? true : undefined));
    const after = await postWebhook(h, acct, { employee_id: acct.employeeId, event: 'drill', payload: 'after the restart' });
    expect(after.status).toBe(202);
    const accepted = [...burst.accepted, after.body.message_id!];

    const outcome = await drillOutcome(h, acct, accepted);
    reportDrill('Redis SIGKILL + restart', {
      sent: 301, // the burst, then one request once the API is ready again
      accepted: accepted.length,
      refused_502: burst.statuses[502] ?? 0,
      ...outcome.counts,
    });
    expect(Object.keys(burst.statuses).sort()).toEqual(expect.arrayContaining(['202']));
    expect(Object.keys(burst.statuses).filter((s) => s !== '202' && s !== '502')).toEqual([]);
    expect(burst.statuses[502]).toBeGreaterThan(0); // the outage did meet the burst
    expect(burst.accepted.length).toBeGreaterThanOrEqual(100);
    // A 502 left nothing behind: the only records, reservations and charges are the accepted events'.
    await expectEachSettledOnce(h, acct, accepted, outcome);
    await worker.stop();
  }, 180_000);

  it('brings up a worker while Redis is down, which processes the waiting events without it', async () => {
    const { h, acct, service: redis } = stack;
    const { accepted } = await postBurst(h, acct, 20);
    expect(accepted).toHaveLength(20);
    await redis.kill('SIGKILL');
    try {
      const worker = await stack.startWorker();
      // The worker needs no Redis: the events complete and settle while it is still down.
      const completed = await awaitCompleted(h, acct, accepted);
      expect(completed.sort()).toEqual([...accepted].sort());
      const state = await ledgerState(h, acct.accountId);
      for (const id of accepted) expect(state.charged.filter((c) => c === id)).toEqual([id]);
      expect(state.openReservations).toEqual([]);
      expect(state.verify.problems).toEqual([]);
      expect(await h.redis.ping().catch(() => 'down')).toBe('down');
      await worker.stop();
    } finally {
      await redis.restart();
    }
  }, 120_000);
});
