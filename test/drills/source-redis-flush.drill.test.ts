import { createHmac, randomUUID } from 'node:crypto';
import { secretKeys } from '../../src/secrets/secret-box';
import { createSourceStore } from '../../src/sources/source-store';
import { useDrillStack } from '../helpers/drill-stack';
import { privateRedis } from '../helpers/private-stack';

/**
 * A sender retrying its deliveries while Redis is flushed: the delivery id's window lives in
 * PostgreSQL, Redis only caches it, so each delivery id is still one event. A private Redis, so the
 * flush takes nothing from other files.
 */
const stack = useDrillStack('source-redis-flush', { worker: true, service: privateRedis, overrides: (redis) => ({ REDIS_URL: redis.address }) });

const DELIVERIES = 12;
const ROUNDS = 6;

function githubHeaders(secret: string, id: string, body: string) {
  return {
    'content-type': 'application/json',
    'x-github-event': 'push',
    'x-github-delivery': id,
    'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`,
  };
}

function stripeHeaders(secret: string, body: string) {
  const t = Math.floor(Date.now() / 1000);
  return { 'content-type': 'application/json', 'stripe-signature': `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}` };
}

describe('drill: Redis FLUSHALL while senders retry the same deliveries', () => {
  it('still makes one event of each delivery id, and every retry a duplicate of it', async () => {
    const { h, acct } = stack;
    const store = createSourceStore(h.db, secretKeys(h.config));
    const ghSecret = randomUUID();
    const stSecret = `whsec_${randomUUID()}`;
    const gh = await store.add({ employeeId: acct.employeeId, name: 'gh', kind: 'github', secret: ghSecret, windowMs: 3_600_000 });
    const st = await store.add({ employeeId: acct.employeeId, name: 'stripe', kind: 'stripe', secret: stSecret, windowMs: 3_600_000 });
    const deliveries = Array.from({ length: DELIVERIES }, (_, i) => {
      const id = `evt_${randomUUID()}`;
      return i % 2
        ? {
            id,
            send: () =>
              h.http
                .post(`/api/sources/${gh.id}`)
                .set(githubHeaders(ghSecret, id, `{"ref":"refs/heads/${id}"}`))
                .send(`{"ref":"refs/heads/${id}"}`),
          }
        : {
            id,
            send: () => {
              const body = JSON.stringify({ id, type: 'invoice.paid' });
              return h.http.post(`/api/sources/${st.id}`).set(stripeHeaders(stSecret, body)).send(body);
            },
          };
    });

    const answers = new Map<string, { status: number; messageId: string }[]>();
    for (let round = 0; round < ROUNDS; round++) {
      // The flush lands while the third round is in flight.
      const flushed = round === 2 ? h.redis.flushall() : undefined;
      const results = await Promise.all(deliveries.map(async (d) => ({ id: d.id, res: await d.send() })));
      expect(await flushed).toBe(round === 2 ? 'OK' : undefined);
      for (const { id, res } of results) answers.set(id, [...(answers.get(id) ?? []), { status: res.status, messageId: res.body.message_id as string }]);
    }

    for (const [id, seen] of answers) {
      expect({ id, statuses: seen.map((s) => s.status).sort() }).toEqual({ id, statuses: [200, 200, 200, 200, 200, 202] });
      expect(new Set(seen.map((s) => s.messageId)).size).toBe(1);
    }
    const { rows } = await h.db.query<{ n: number }>('SELECT count(*)::int AS n FROM messages WHERE account_id = $1', [acct.accountId]);
    expect(rows[0].n).toBe(DELIVERIES);
  });
});
