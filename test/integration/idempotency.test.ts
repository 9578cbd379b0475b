import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { buildApi } from '../../src/api';
import { eventWorkflowId } from '../../src/events/workflow-id';
import { createLogger } from '../../src/observability/logger';
import { sha256Hex } from '../../src/shared/hash';
import { EventIntake } from '../../src/stores/intake';
import { appDatabaseUrl } from '../../src/stores/postgres/app-role';
import { connectTemporal } from '../../src/temporal/connect';
import { createPool } from '../../src/stores/postgres/pool';
import { connectRedis } from '../../src/stores/redis/client';
import { createHarness, eventually, type Harness, type Seeded } from '../helpers/harness';

let h: Harness;

beforeAll(async () => {
  h = await createHarness();
});
afterAll(() => h.close());

type Http = ReturnType<typeof request>;

const PAYLOAD = 'Order #1234 placed.';

function send(http: Http, acct: Seeded, key: string, body: { payload?: string; event?: string; employee_id?: string } = {}) {
  return http
    .post('/api/webhook/')
    .set(acct.auth)
    .set('Idempotency-Key', key)
    .send({ employee_id: acct.employeeId, event: 'order.completed', payload: PAYLOAD, ...body });
}

/** A fresh account, and its first request with `key`, which was accepted (202). */
async function acceptedWithKey(key: string, harness: Harness = h) {
  const acct = await harness.seedAccount();
  const first = await send(harness.http, acct, key);
  expect(first.status).toBe(202);
  return { acct, first };
}

/** The key's window as PostgreSQL holds it (the key itself is never stored, only its sha256). */
async function windowRow(harness: Harness, accountId: string, key: string) {
  const { rows } = await harness.db.query<{ message_id: string; expires_at: Date; payload_sha256: string }>(
    `SELECT message_id, expires_at, payload_sha256 FROM idempotency_windows WHERE account_id = $1 AND scope = 'api' AND key_sha256 = $2`,
    [accountId, sha256Hex(key)],
  );
  return rows[0];
}

/** Waits until every message id is charged, then checks each was charged exactly once and nothing else was. */
async function expectOneChargeEach(harness: Harness, accountId: string, messageIds: string[]): Promise<void> {
  await eventually('a charge for every accepted event', async () => {
    const charged = await Promise.all(messageIds.map((id) => harness.ledger.chargeFor(accountId, id)));
    return charged.every(Boolean) ? true : undefined;
  });
  const charges = (await harness.ledger.postings(accountId)).filter((p) => p.kind === 'charge');
  expect(charges.map((c) => c.messageId).sort()).toEqual([...messageIds].sort());
}

describe('Idempotency-Key', () => {
  it('answers a repeat with 200 duplicate and the original message id, charges once, and the workflow closes as soon as its work is done', async () => {
    const key = `order-${randomUUID()}`;
    const { acct, first } = await acceptedWithKey(key);
    expect(first.body.status).toBe('accepted');
    const window = await windowRow(h, acct.accountId, key);
    expect(window.message_id).toBe(first.body.message_id);
    expect(window.expires_at.getTime()).toBeGreaterThan(Date.now() + 4 * 60_000);
    // The window is cached on its first duplicate, not at acceptance.
    expect(await h.windows.expiresAt(acct.accountId, key)).toBeUndefined();

    const handle = h.workflowHandle(acct.accountId, first.body.message_id, key);
    expect((await handle.result()).status).toBe('completed');
    // Completed in Temporal (not Running for the rest of the window), and the status API agrees.
    expect((await handle.describe()).status.name).toBe('COMPLETED');
    const status = await h.http.get(`/api/webhook/${first.body.message_id}`).set(acct.auth);
    expect(status.body.status).toBe('completed');

    const again = await send(h.http, acct, key);
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ status: 'duplicate', message_id: first.body.message_id, employee_id: acct.employeeId });
    expect(again.headers.location).toBeUndefined();
    // Redis forgets the key exactly when the database's window ends; by the key's hash, never the key.
    expect(await h.windows.expiresAt(acct.accountId, key)).toBe(window.expires_at.getTime());
    expect(await h.redis.keys(`sv:{${acct.accountId}}:*`)).toEqual([`sv:{${acct.accountId}}:idem:${sha256Hex(key)}`]);
    await expectOneChargeEach(h, acct.accountId, [first.body.message_id]);
  });

  it.each([
    ['payload', { payload: 'A different payload.' }],
    ['event', { event: 'order.cancelled' }],
  ])('refuses the key reused with another %s: 422 IDEMPOTENCY_KEY_REUSED naming it, from the database and from the cache alike', async (field, change) => {
    const key = `reuse-${randomUUID()}`;
    const { acct, first } = await acceptedWithKey(key);
    const fromDatabase = await send(h.http, acct, key, change);
    expect(fromDatabase.status).toBe(422);
    expect(fromDatabase.body.error).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED', field });
    expect(fromDatabase.body.error.message).toContain(`its ${field} differs`);
    // Cache the window with an exact repeat, then reuse again: the cached answer refuses it too.
    expect((await send(h.http, acct, key)).status).toBe(200);
    expect(await h.windows.lookup(acct.accountId, key)).toBeDefined();
    const fromCache = await send(h.http, acct, key, change);
    expect([fromCache.status, fromCache.body.error.code]).toEqual([422, 'IDEMPOTENCY_KEY_REUSED']);
    await expectOneChargeEach(h, acct.accountId, [first.body.message_id]);
  });

  it('refuses the key reused for another employee of the account', async () => {
    const key = `reuse-employee-${randomUUID()}`;
    const { acct } = await acceptedWithKey(key);
    const other = await h.employees.createEmployee({ accountId: acct.accountId, name: 'Second' });
    const res = await send(h.http, acct, key, { employee_id: other.id });
    expect(res.status).toBe(422);
    expect(res.body.error).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED', field: 'employee_id' });
  });

  it('accepts exactly one of 200 concurrent requests with one key and answers the rest as its duplicates', async () => {
    const acct = await h.seedAccount();
    await h.accounts.updateAccount(acct.accountId, { rateLimitPerMinute: 10_000 });
    const key = `burst-${randomUUID()}`;
    const responses = await Promise.all(Array.from({ length: 200 }, () => send(h.http, acct, key)));

    const accepted = responses.filter((r) => r.status === 202);
    const duplicates = responses.filter((r) => r.status === 200);
    expect(accepted).toHaveLength(1);
    expect(duplicates).toHaveLength(199);
    const messageId = accepted[0].body.message_id;
    for (const d of duplicates) expect(d.body).toEqual({ status: 'duplicate', message_id: messageId, employee_id: acct.employeeId });
    await expectOneChargeEach(h, acct.accountId, [messageId]);
  });

  it('lets two accounts use the same key independently', async () => {
    const [a, b] = await Promise.all([h.seedAccount(), h.seedAccount()]);
    const key = `shared-${randomUUID()}`;
    const [ra, rb] = await Promise.all([send(h.http, a, key), send(h.http, b, key)]);
    expect([ra.status, rb.status]).toEqual([202, 202]);
    expect(ra.body.message_id).not.toBe(rb.body.message_id);
    await expectOneChargeEach(h, a.accountId, [ra.body.message_id]);
    await expectOneChargeEach(h, b.accountId, [rb.body.message_id]);
  });

  it('still answers duplicate after the API restarts with fresh PostgreSQL, Redis and Temporal connections', async () => {
    const key = `restart-${randomUUID()}`;
    const { acct, first } = await acceptedWithKey(key);

    const redis = await connectRedis(h.config.REDIS_URL, { failFast: true });
    const db = createPool(appDatabaseUrl(h.config), { name: 'test-api-restarted', failFast: true });
    const connection = await connectTemporal(h.config);
    try {
      const restarted = buildApi(h.config, { db, redis, connection }, createLogger(h.config, 'test-api-restarted'));
      const again = await send(request(restarted.callback()), acct, key);
      expect(again.status).toBe(200);
      expect(again.body).toEqual({ status: 'duplicate', message_id: first.body.message_id, employee_id: acct.employeeId });
    } finally {
      await connection.close();
      redis.disconnect();
      await db.end();
    }
    await expectOneChargeEach(h, acct.accountId, [first.body.message_id]);
  });

  it('answers from the database window when Redis has lost its copy, and caches it again with the same end', async () => {
    const key = `lost-${randomUUID()}`;
    const { acct, first } = await acceptedWithKey(key);
    const { expires_at: end } = await windowRow(h, acct.accountId, key);
    const duplicate = { status: 'duplicate', message_id: first.body.message_id, employee_id: acct.employeeId };

    expect([(await send(h.http, acct, key)).status, await h.windows.expiresAt(acct.accountId, key)]).toEqual([200, end.getTime()]);
    await h.windows.forget(acct.accountId, key);
    const again = await send(h.http, acct, key);
    expect([again.status, again.body]).toEqual([200, duplicate]);
    expect(await h.windows.expiresAt(acct.accountId, key)).toBe(end.getTime());
    await expectOneChargeEach(h, acct.accountId, [first.body.message_id]);
  });

  it('takes over the window of an original that was reserved but never started (its API died), once the start timeout has passed', async () => {
    const acct = await h.seedAccount();
    const key = `orphan-${randomUUID()}`;
    const orphan = randomUUID();
    // What an API that died between its reservation and its start leaves behind.
    const claimed = await new EventIntake(h.db).accept({
      accountId: acct.accountId,
      messageId: orphan,
      employeeId: acct.employeeId,
      event: 'order.completed',
      workflowId: eventWorkflowId(acct.accountId, orphan, key),
      credits: 10,
      at: new Date(Date.now() - 60_000),
      window: { scope: 'api', keySha256: sha256Hex(key), payloadSha256: sha256Hex(PAYLOAD), windowMs: 300_000 },
    });
    expect(claimed.outcome).toBe('reserved');

    const retry = await send(h.http, acct, key);
    expect(retry.status).toBe(202);
    expect(retry.body.message_id).not.toBe(orphan);
    expect((await windowRow(h, acct.accountId, key)).message_id).toBe(retry.body.message_id);
    expect((await send(h.http, acct, key)).body).toMatchObject({ status: 'duplicate', message_id: retry.body.message_id });
    await expectOneChargeEach(h, acct.accountId, [retry.body.message_id]);
  });

  it.each([
    ['255 characters', 'k'.repeat(254) + '!'],
    ['spaces', 'order 1234 completed'],
  ])('maps a key with %s to the hashed workflow id and still deduplicates it', async (_what, suffix) => {
    const key = suffix.length === 255 ? suffix : `${suffix} ${randomUUID()}`;
    const { acct, first } = await acceptedWithKey(key);

    const described = await h.client.workflow.getHandle(`webhook/${acct.accountId}/key-sha256/${sha256Hex(key)}`).describe();
    expect(described.memo).toMatchObject({ messageId: first.body.message_id, idempotencyKey: key });
    const again = await send(h.http, acct, key);
    expect(again.status).toBe(200);
    expect(again.body.message_id).toBe(first.body.message_id);
    await expectOneChargeEach(h, acct.accountId, [first.body.message_id]);
  });

  it('keeps a short readable key in the workflow id as it is', async () => {
    const key = `order-${randomUUID()}`;
    const { acct, first } = await acceptedWithKey(key);
    const described = await h.client.workflow.getHandle(`webhook/${acct.accountId}/key/${key}`).describe();
    expect(described.memo).toMatchObject({ messageId: first.body.message_id });
  });
});

describe('Idempotency-Key after its window', () => {
  let short: Harness;
  beforeAll(async () => {
    short = await createHarness({ IDEMPOTENCY_WINDOW_MS: '2000' });
  });
  afterAll(() => short.close());

  it('stays a duplicate after the event closed while the window lasts, then accepts the key again with a new message id', async () => {
    const key = `window-${randomUUID()}`;
    const { acct, first } = await acceptedWithKey(key, short);
    await short.workflowHandle(acct.accountId, first.body.message_id, key).result();
    // Closed, and still guarded: the database holds the window, not the workflow.
    expect((await send(short.http, acct, key)).status).toBe(200);
    const { expires_at: end } = await windowRow(short, acct.accountId, key);

    await eventually('the window to end', async () => (Date.now() > end.getTime() ? true : undefined), 10_000);
    expect(await short.windows.lookup(acct.accountId, key)).toBeUndefined();
    const later = await send(short.http, acct, key);
    expect(later.status).toBe(202);
    expect(later.body.message_id).not.toBe(first.body.message_id);
    await expectOneChargeEach(short, acct.accountId, [first.body.message_id, later.body.message_id]);
  });

  it('prunes expired windows and keeps open ones', async () => {
    const key = `prune-${randomUUID()}`;
    const { acct } = await acceptedWithKey(key, short);
    const open = `open-${randomUUID()}`;
    await eventually(
      'the window to end',
      async () => ((await windowRow(short, acct.accountId, key)).expires_at.getTime() < Date.now() ? true : undefined),
      10_000,
    );
    expect((await send(short.http, acct, open)).status).toBe(202);
    await new EventIntake(short.db).pruneExpired();
    expect(await windowRow(short, acct.accountId, key)).toBeUndefined();
    expect(await windowRow(short, acct.accountId, open)).toBeDefined();
  });
});
