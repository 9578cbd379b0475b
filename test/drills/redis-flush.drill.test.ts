import { randomUUID } from 'node:crypto';
import { awaitCompleted, postBurst, postWebhook } from '../helpers/burst';
import { expectSettledExactly, ledgerState, useDrillStack } from '../helpers/drill-stack';
import { eventually, type Seeded } from '../helpers/harness';
import { debitedMessageIds, repeated, reportDrill } from '../helpers/ledger-checks';
import { privateRedis } from '../helpers/private-stack';

/**
 * Redis may be forgotten: it holds only rate-limit counters and the Idempotency-Key window cache.
 * A FLUSHALL in the middle of a burst loses no event, no key, and no window: the keys are in
 * PostgreSQL and the running workflow of a key (Temporal) is the guard the cache only speeds up.
 * A private Redis: flushing the suite's would pull the counters and windows from under other files.
 */
const stack = useDrillStack('redis-flush', { worker: true, service: privateRedis, overrides: (redis) => ({ REDIS_URL: redis.address }) });

const KEYED = 5;
const REPEATS_EACH = 20;

describe('drill: Redis FLUSHALL in the middle of a burst', () => {
  it('loses no event, keeps every API key, and answers repeats of a key accepted before the flush as duplicates', async () => {
    const { h, acct } = stack;
    const body = (payload: string, who: Seeded = acct) => ({ employee_id: who.employeeId, event: 'drill', payload });
    // Keys besides the seeded one: two more, another account's, and a revoked one.
    const more = [await h.keys.createApiKey(acct.accountId, 'drill-2'), await h.keys.createApiKey(acct.accountId, 'drill-3')];
    const revoked = await h.keys.createApiKey(acct.accountId, 'drill-revoked');
    await h.keys.revokeApiKey(acct.accountId, revoked.info.id);
    const other = await h.seedAccount({ credits: 1_000 });

    // Keyed events accepted before the flush; one repeat of each caches its window in Redis.
    const originals = new Map<string, string>();
    const firstAcceptedAt = Date.now();
    for (let i = 0; i < KEYED; i++) {
      const key = `drill-flush-${randomUUID()}`;
      const first = await postWebhook(h, acct, body(`keyed ${i}`), { idempotencyKey: key });
      expect(first.status).toBe(202);
      originals.set(key, first.body.message_id!);
      const repeat = await postWebhook(h, acct, body(`keyed ${i}`), { idempotencyKey: key });
      expect(repeat.status).toBe(200);
      expect(repeat.body).toMatchObject({ status: 'duplicate', message_id: first.body.message_id });
      expect(await h.windows.expiresAt(acct.accountId, key)).toBeDefined();
    }

    let flushed: Promise<unknown> | undefined;
    const burst = await postBurst(h, acct, 300, {
      concurrency: 8,
      onAnswer: (done) => {
        if (done === 150) flushed = h.redis.flushall();
      },
    });
    expect(await flushed).toBe('OK');
    // Redis never stopped answering: every request of the burst was accepted.
    expect(burst.statuses).toEqual({ 202: 300 });
    // The flush took the cached windows: what follows is answered by the windows in PostgreSQL.
    for (const key of originals.keys()) expect(await h.windows.expiresAt(acct.accountId, key)).toBeUndefined();

    // A fresh API process (no key cache) and the in-process one, both on the flushed Redis.
    const { url } = await stack.startApi();
    const repeats = await Promise.all(
      [...originals.keys()].flatMap((key, k) =>
        Array.from({ length: REPEATS_EACH }, (_, i) =>
          postWebhook(h, acct, body(`keyed ${k}`), { idempotencyKey: key, to: i % 2 ? url : undefined }).then((res) => ({ key, res })),
        ),
      ),
    );
    expect(Date.now() - firstAcceptedAt).toBeLessThan(h.config.IDEMPOTENCY_WINDOW_MS); // all within the window
    const duplicates = repeats.filter(({ key, res }) => res.status === 200 && res.body.status === 'duplicate' && res.body.message_id === originals.get(key));
    expect(repeats.filter((r) => !duplicates.includes(r)).map((r) => r.res)).toEqual([]);

    // Every key still authenticates (the fresh process reads them from PostgreSQL); the revoked one still does not.
    const keyChecks = await Promise.all(
      [acct.key, ...more.map((k) => k.key)].map((key) => postWebhook(h, { ...acct, auth: { Authorization: `Bearer ${key}` } }, body('key check'), { to: url })),
    );
    expect(keyChecks.map((r) => r.status)).toEqual([202, 202, 202]);
    const otherCheck = await postWebhook(h, other, body('key check', other), { to: url });
    expect(otherCheck.status).toBe(202);
    const refused = await postWebhook(h, { ...acct, auth: { Authorization: `Bearer ${revoked.key}` } }, body('revoked'), { to: url });
    expect(refused.status).toBe(401);

    const unkeyed = [...burst.accepted, ...keyChecks.map((r) => r.body.message_id!)];
    const completed = await awaitCompleted(h, acct, unkeyed);
    expect(completed.sort()).toEqual([...unkeyed].sort());
    expect(await awaitCompleted(h, other, [otherCheck.body.message_id!])).toEqual([otherCheck.body.message_id]);
    // A keyed event's workflow stays open for its window; it is charged before that, when it settles.
    const keyed = [...originals.values()];
    await eventually(
      'keyed events charged',
      async () => {
        const charged = new Set(await debitedMessageIds(h.ledger, acct.accountId));
        return keyed.every((id) => charged.has(id)) ? true : undefined;
      },
      60_000,
    );

    const debited = await debitedMessageIds(h.ledger, acct.accountId);
    reportDrill('Redis FLUSHALL mid-burst', {
      sent: 300,
      accepted: burst.accepted.length,
      processed: completed.filter((id) => burst.accepted.includes(id)).length,
      keyed_before_flush: originals.size,
      repeats_after_flush: repeats.length,
      duplicates_of_original: duplicates.length,
      keys_authenticated: keyChecks.length + 1,
      revoked_refused: refused.status === 401 ? 1 : 0,
      charged: debited.length, // the burst, the keyed events and the key checks' events
      charged_twice: repeated(debited).length,
    });
    const all = [...unkeyed, ...keyed].sort();
    expect(debited.sort()).toEqual(all);
    // The repeats reserved at most for a moment: they left no message record and hold nothing.
    const state = await ledgerState(h, acct.accountId);
    expect(state.charged).toEqual(all);
    expect(state.messages).toEqual(all);
    expect(state.openReservations).toEqual([]);
    expect(state.verify.problems).toEqual([]);
    expectSettledExactly(await ledgerState(h, other.accountId), [otherCheck.body.message_id!]);
  }, 180_000);
});
