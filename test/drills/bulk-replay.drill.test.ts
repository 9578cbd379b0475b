import { postBurst } from '../helpers/burst';
import { useDrillStack } from '../helpers/drill-stack';
import { eventually } from '../helpers/harness';
import { debitedMessageIds, repeated, reportDrill } from '../helpers/ledger-checks';

const stack = useDrillStack('bulk-replay', { fakeModel: true });
const EVENTS = 200;

interface Progress {
  bulk_id: string;
  state: string;
  total: number;
  done: number;
  replayed: number;
  skipped: Record<string, number>;
}

/**
 * A bulk replay of every failed event of an employee: confirmed through an API process that is
 * SIGKILLed right after, with the worker running the bulk SIGKILLed mid-way and replaced.
 */
describe('drill: bulk replay with the API and the worker killed mid-way', () => {
  it('starts one replay for each of the 200 failed events, none twice, each charged once', async () => {
    const { h, acct, fake } = stack;
    let worker = await stack.startWorker();
    fake.setDefault({ kind: 'status', status: 400, message: 'The model refused.' });
    const burst = await postBurst(h, acct, EVENTS, { concurrency: 8, label: 'ticket.updated' });
    expect(burst.accepted).toHaveLength(EVENTS);

    const { api, url } = await stack.startApi();
    const post = (body: object) =>
      fetch(`${url}/api/webhook/replay`, { method: 'POST', headers: { ...acct.auth, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const filter = { employee_id: acct.employeeId, event: 'ticket.updated' };
    const dry = await eventually(
      'every event failed and visible',
      async () => {
        const res = await post(filter);
        const body = (await res.json()) as { count: number };
        return res.status === 200 && body.count === EVENTS ? body : undefined;
      },
      60_000,
    );
    expect(dry).toEqual({ dry_run: true, count: EVENTS, filter: { ...filter, since: null, until: null, status: 'failed' } });

    fake.setDefault({ kind: 'hang', ms: 20 });
    const stale = await post({ ...filter, dry_run: false, count: EVENTS - 1 });
    expect([stale.status, ((await stale.json()) as { error: { code: string } }).error.code]).toEqual([409, 'BULK_COUNT_CHANGED']);
    const started = await post({ ...filter, dry_run: false, count: EVENTS });
    const body = (await started.json()) as { bulk_id: string; count: number };
    expect([started.status, body.count, started.headers.get('location')]).toEqual([202, EVENTS, `/api/webhook/replay/${body.bulk_id}`]);
    await api.stop('SIGKILL');

    const progress = async () => (await h.http.get(`/api/webhook/replay/${body.bulk_id}`).set(acct.auth)).body as Progress;
    await eventually('a third of the replays', async () => ((await progress()).done >= EVENTS / 3 ? true : undefined), 60_000);
    await worker.stop('SIGKILL');
    worker = await stack.startWorker();
    const finished = await eventually(
      'the bulk to complete',
      async () => {
        const p = await progress();
        return p.state === 'completed' ? p : undefined;
      },
      90_000,
    );
    expect(finished).toMatchObject({ total: EVENTS, done: EVENTS, replayed: EVENTS, skipped: {} });

    // One replay per original, each pointing at it, none twice.
    const { rows } = await h.db.query<{ replay_of: string; n: number }>(
      'SELECT replay_of, count(*)::int AS n FROM messages WHERE account_id = $1 AND replay_of IS NOT NULL GROUP BY replay_of',
      [acct.accountId],
    );
    expect(rows.map((r) => r.replay_of).sort()).toEqual([...burst.accepted].sort());
    expect(rows.filter((r) => r.n !== 1)).toEqual([]);
    const replays = (await h.db.query<{ id: string }>('SELECT id FROM messages WHERE account_id = $1 AND replay_of IS NOT NULL', [acct.accountId])).rows.map(
      (r) => r.id,
    );
    const debited = await eventually(
      'every replay charged',
      async () => {
        const ids = await debitedMessageIds(h.ledger, acct.accountId);
        return ids.length >= EVENTS ? ids : undefined;
      },
      90_000,
    );
    expect(repeated(debited)).toEqual([]);
    expect([...debited].sort()).toEqual([...replays].sort());
    reportDrill('bulk replay, API and worker SIGKILL', {
      failed: EVENTS,
      replayed: finished.replayed,
      charged: debited.length,
      model_calls: fake.requests.length,
    });
    await worker.stop();
  }, 240_000);
});
