import { postBurst, postWebhook } from '../helpers/burst';
import { drillOutcome, expectEachSettledOnce, useDrillStack } from '../helpers/drill-stack';
import { eventually } from '../helpers/harness';
import { debitedMessageIds, reportDrill } from '../helpers/ledger-checks';
import { migratePrivate, privatePostgres } from '../helpers/private-stack';

/**
 * PostgreSQL is the system of record: while it is down the API cannot authenticate, look up the
 * employee or reserve credits, so it answers 502 and accepts nothing; the worker's activities and
 * settlements fail and retry until it is back. A SIGKILL loses no committed transaction.
 */
const stack = useDrillStack('postgres-restart', {
  fakeModel: true,
  service: async () => {
    const postgres = await privatePostgres();
    await migratePrivate(postgres.url); // migrate(url), in a process of its own (see migratePrivate)
    return postgres;
  },
  overrides: (postgres) => ({ DATABASE_URL: postgres.url }),
});

describe('drill: PostgreSQL SIGKILLed and restarted during a burst', () => {
  it('refuses requests during the outage with 502, accepting nothing for them; settles every 202 once after the restart', async () => {
    const { h, acct, fake, service: postgres } = stack;
    fake.setDefault({ kind: 'hang', ms: 200 }); // events stay in flight in the worker when the database dies
    const worker = await stack.startWorker();
    const { url } = await stack.startApi();

    const acceptedSoFar: string[] = [];
    let restarted = false;
    let acceptedAfterRestart = 0;
    let atKill: { accepted: string[]; charged: Set<string> } | undefined;
    let readyDuringOutage: { status: number; body: unknown } | undefined;
    let outage: Promise<void> | undefined;
    const burst = await postBurst(h, acct, 300, {
      to: url,
      concurrency: 8,
      pauseAfterRefusalMs: 250,
      onAnswer: (done, answer) => {
        if (answer.status === 202) {
          acceptedSoFar.push(answer.messageId!);
          if (restarted) acceptedAfterRestart++;
        }
        if (done !== 100) return;
        outage = (async () => {
          const accepted = [...acceptedSoFar];
          const charged = new Set(await debitedMessageIds(h.ledger, acct.accountId));
          atKill = { accepted, charged };
          await postgres.kill('SIGKILL');
          const res = await fetch(`${url}/readyz`);
          readyDuringOutage = { status: res.status, body: await res.json() };
          await postgres.restart();
          restarted = true;
        })();
      },
    });
    await outage;
    // The API heals by itself: its pool connects anew once the database answers.
    await eventually('API ready again', async () => ((await fetch(`${url}/readyz`)).status === 200 ? true : undefined), 30_000);
    const after = await postWebhook(h, acct, { employee_id: acct.employeeId, event: 'drill', payload: 'after the restart' }, { to: url });
    expect(after.status).toBe(202);
    const accepted = [...burst.accepted, after.body.message_id!];

    const outcome = await drillOutcome(h, acct, accepted);
    const unsettledAtKill = atKill!.accepted.filter((id) => !atKill!.charged.has(id));
    reportDrill('PostgreSQL SIGKILL + restart', {
      sent: 301, // the burst, then one request once the API is ready again
      accepted: accepted.length,
      refused_502: burst.statuses[502] ?? 0,
      accepted_after_restart: acceptedAfterRestart,
      unsettled_at_kill: unsettledAtKill.length,
      ...outcome.counts,
    });
    expect(readyDuringOutage).toEqual({ status: 503, body: { status: 'unavailable', down: ['database'] } });
    expect(Object.keys(burst.statuses).filter((s) => s !== '202' && s !== '502')).toEqual([]);
    expect(burst.statuses[502]).toBeGreaterThan(0);
    expect(burst.accepted.length).toBeGreaterThanOrEqual(100);
    // Events accepted before the kill and not yet settled then were settled after the restart.
    expect(unsettledAtKill.length).toBeGreaterThan(0);
    // No 502 left a message record or a reservation: those exist for exactly the accepted events.
    await expectEachSettledOnce(h, acct, accepted, outcome);
    await worker.stop();
  }, 240_000);
});
