import { Redis } from 'ioredis';
import { Client } from 'pg';
import { postWebhook } from '../helpers/burst';
import { drillOutcome, expectEachSettledOnce, useDrillStack } from '../helpers/drill-stack';
import { eventually } from '../helpers/harness';
import { reportDrill } from '../helpers/ledger-checks';
import { privateRedis } from '../helpers/private-stack';

/**
 * Slow, not down: Redis stalls for 4 s (DEBUG SLEEP, the whole server frozen), then the account's
 * balance row is locked for 5 s, both in the middle of a burst against an API process with its
 * default settings. The API's Redis commands give up after REDIS_COMMAND_TIMEOUT_MS (1 s after they
 * are written, so up to 2 s behind an auto-pipelined batch) and its statements after
 * API_STATEMENT_TIMEOUT_MS (1 s), so every request is answered within 3 s (the
 * issue's bound): 202, or 502 for the client to retry; /readyz names the stalled Redis within its
 * deadline. Nothing accepted is lost and nothing is charged twice.
 *
 * Eight lanes, below the API's pool of ten: this drill is about slow dependencies, not an exhausted
 * pool (a request waits at most API_POOL_WAIT_MS for a connection on top, and the in-flight cap
 * bounds how many wait at all).
 */
const stack = useDrillStack('slow-dependencies', {
  service: () => privateRedis({ debugCommand: true }),
  overrides: (redis) => ({ REDIS_URL: redis.address }),
});

const BOUND_MS = 3_000;
type Phase = 'before' | 'redis stalled' | 'between' | 'balance locked' | 'after';

describe('drill: Redis stalled, then the balance row locked, during a burst', () => {
  it('answers every request within 3 s, loses no accepted event and charges none twice', async () => {
    const { h, acct, service: redis } = stack;
    const worker = await stack.startWorker();
    const { url } = await stack.startApi();
    let phase: Phase = 'before';
    let running = true;
    const answers: Array<{ phase: Phase; status: number; ms: number; messageId?: string }> = [];
    const acceptedIn = (p: Phase) => answers.filter((a) => a.phase === p && a.status === 202).length;
    const lane = async (n: number) => {
      for (let i = 0; running; i++) {
        const at = phase;
        const started = performance.now();
        const res = await postWebhook(h, acct, { employee_id: acct.employeeId, event: 'drill', payload: `lane ${n} event ${i}` }, { to: url });
        answers.push({ phase: at, status: res.status, ms: performance.now() - started, messageId: res.body.message_id });
      }
    };
    const lanes = Promise.all(Array.from({ length: 8 }, (_, n) => lane(n)));
    const readiness: Array<{ status: number; ms: number; down?: string[] }> = [];

    try {
      await eventually('accepted before the stall', async () => (acceptedIn('before') >= 20 ? true : undefined), 60_000);

      // Redis frozen for 4 s: DEBUG SLEEP blocks the whole server, every client's commands wait.
      const staller = new Redis(redis.address, { maxRetriesPerRequest: 0 });
      await staller.ping(); // connected first: the stall starts when the phase does
      phase = 'redis stalled';
      const stall = staller.call('DEBUG', 'SLEEP', '4');
      await new Promise((resolve) => setTimeout(resolve, 300)); // into the stall, not at its edge
      const probeStarted = performance.now();
      const probe = await fetch(`${url}/readyz`);
      readiness.push({ status: probe.status, ms: performance.now() - probeStarted, down: ((await probe.json()) as { down?: string[] }).down });
      await stall;
      staller.disconnect();
      phase = 'between';
      await eventually('accepted again after the stall', async () => (acceptedIn('between') >= 20 ? true : undefined), 60_000);

      // The account's balance row locked for 5 s: every reservation for it waits on the lock.
      const locker = new Client({ connectionString: process.env.TEST_DATABASE_URL });
      await locker.connect();
      await locker.query('BEGIN');
      await locker.query('SELECT balance FROM credit_balances WHERE account_id = $1 FOR UPDATE', [acct.accountId]);
      phase = 'balance locked';
      await new Promise((resolve) => setTimeout(resolve, 5_000)); // the lock's hold time is the scenario
      phase = 'after';
      await locker.query('COMMIT');
      await locker.end();
      await eventually('accepted after the lock', async () => (acceptedIn('after') >= 20 ? true : undefined), 60_000);
    } finally {
      running = false;
      await lanes;
    }

    const accepted = answers.flatMap((a) => (a.status === 202 ? [a.messageId!] : []));
    const outcome = await drillOutcome(h, acct, accepted);
    const worst = (p: Phase) => Math.round(Math.max(0, ...answers.filter((a) => a.phase === p).map((a) => a.ms)));
    const count = (p: Phase, status: number) => answers.filter((a) => a.phase === p && a.status === status).length;
    reportDrill('Redis DEBUG SLEEP 4 + balance row locked 5 s', {
      sent: answers.length,
      accepted: accepted.length,
      refused_502: answers.filter((a) => a.status === 502).length,
      stall_502: count('redis stalled', 502),
      lock_502: count('balance locked', 502),
      lock_202: count('balance locked', 202),
      worst_ms_stall: worst('redis stalled'),
      worst_ms_lock: worst('balance locked'),
      worst_ms_all: Math.round(Math.max(...answers.map((a) => a.ms))),
      readyz_ms: Math.round(readiness[0].ms),
      ...outcome.counts,
    });

    // Every request answered within the bound, each with 202 or a 502 to retry.
    expect(answers.filter((a) => a.ms >= BOUND_MS)).toEqual([]);
    expect([...new Set(answers.map((a) => a.status))].filter((s) => s !== 202 && s !== 502)).toEqual([]);
    // Both disruptions met the burst.
    expect(count('redis stalled', 502)).toBeGreaterThan(0);
    expect(count('balance locked', 502)).toBeGreaterThan(0);
    // The stalled Redis made /readyz fail within its deadline, naming it.
    expect(readiness[0]).toMatchObject({ status: 503, down: ['redis'] });
    expect(readiness[0].ms).toBeLessThan(BOUND_MS);
    // Nothing accepted lost, nothing charged twice, nothing else reserved or held.
    await expectEachSettledOnce(h, acct, accepted, outcome);
    await worker.stop();
  }, 240_000);
});
