import { randomUUID } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import request from 'supertest';
import { buildApi } from '../../src/api';
import { eventWorkflowId } from '../../src/events/workflow-id';
import { createLogger } from '../../src/observability/logger';
import { sha256Hex } from '../../src/shared/hash';
import { appDatabaseUrl } from '../../src/stores/postgres/app-role';
import { connectTemporal } from '../../src/temporal/connect';
import { createPool } from '../../src/stores/postgres/pool';
import { connectRedis } from '../../src/stores/redis/client';
import type { WebhookEventInput } from '../../workflows/contract';
import { createHarness, eventually, type Harness, type Seeded } from '../helpers/harness';

let h: Harness;

beforeAll(async () => {
  h = await createHarness();
});
afterAll(() => h.close());

type Http = ReturnType<typeof request>;

function send(http: Http, acct: Seeded, key: string, payload = 'Order #1234 placed.') {
  return http.post('/api/webhook/').set(acct.auth).set('Idempotency-Key', key).send({ employee_id: acct.employeeId, event: 'order.completed', payload });
}

/** A fresh account, and its first request with `key`, which was accepted (202). */
async function acceptedWithKey(key: string, harness: Harness = h) {
  const acct = await harness.seedAccount();
  const first = await send(harness.http, acct, key);
  expect(first.status).toBe(202);
  return { acct, first };
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

/** The end of the window the event workflow holds open, as it was started (first history event). */
async function workflowDedupUntil(harness: Harness, workflowId: string): Promise<number> {
  const history = await harness.client.workflow.getHandle(workflowId).fetchHistory();
  const payload = history.events![0].workflowExecutionStartedEventAttributes!.input!.payloads![0];
  return defaultPayloadConverter.fromPayload<WebhookEventInput>(payload).dedupUntil!;
}

describe('Idempotency-Key', () => {
  it('answers a repeat of the same key with 200 duplicate and the original message id, and charges once', async () => {
    const key = `order-${randomUUID()}`;
    const { acct, first } = await acceptedWithKey(key);
    expect(first.body.status).toBe('accepted');
    // The window is cached on its first duplicate, not at acceptance.
    expect(await h.windows.expiresAt(acct.accountId, key)).toBeUndefined();

    const again = await send(h.http, acct, key, 'A different payload is still the same event.');
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ status: 'duplicate', message_id: first.body.message_id, employee_id: acct.employeeId });
    expect(again.headers.location).toBeUndefined();
    // Redis forgets the key exactly when the workflow stops guarding it.
    const dedupUntil = await workflowDedupUntil(h, eventWorkflowId(acct.accountId, '', key));
    expect(dedupUntil).toBeGreaterThan(Date.now());
    expect(await h.windows.expiresAt(acct.accountId, key)).toBe(dedupUntil);
    // Cached by the key's hash: the key itself never reaches Redis.
    expect(await h.redis.keys(`sv:{${acct.accountId}}:*`)).toEqual([`sv:{${acct.accountId}}:idem:${sha256Hex(key)}`]);
    await expectOneChargeEach(h, acct.accountId, [first.body.message_id]);
  });

  it('accepts exactly one of 100 concurrent requests with one key and answers the rest as its duplicates', async () => {
    const acct = await h.seedAccount();
    const key = `burst-${randomUUID()}`;
    const responses = await Promise.all(Array.from({ length: 100 }, () => send(h.http, acct, key)));

    const accepted = responses.filter((r) => r.status === 202);
    const duplicates = responses.filter((r) => r.status === 200);
    expect(accepted).toHaveLength(1);
    expect(duplicates).toHaveLength(99);
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

  it('falls back on the running workflow when Redis has lost the key window', async () => {
    const key = `lost-${randomUUID()}`;
    const { acct, first } = await acceptedWithKey(key);
    const dedupUntil = await workflowDedupUntil(h, eventWorkflowId(acct.accountId, '', key));
    const duplicate = { status: 'duplicate', message_id: first.body.message_id, employee_id: acct.employeeId };

    // Nothing cached at acceptance: the first repeat is answered by Temporal, and cached then.
    expect(await h.redis.keys(`sv:{${acct.accountId}}:idem:*`)).toEqual([]);
    const second = await send(h.http, acct, key);
    expect([second.status, second.body]).toEqual([200, duplicate]);
    const windowKeys = await h.redis.keys(`sv:{${acct.accountId}}:idem:*`);
    expect(windowKeys).toEqual([`sv:{${acct.accountId}}:idem:${sha256Hex(key)}`]);
    expect(await h.redis.pexpiretime(windowKeys[0])).toBe(dedupUntil);

    await h.redis.del(windowKeys[0]);
    const again = await send(h.http, acct, key);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(duplicate);
    // The answer from Temporal is cached again, ending with the original window, not a fresh one.
    expect(await h.redis.pexpiretime(windowKeys[0])).toBe(dedupUntil);
    await expectOneChargeEach(h, acct.accountId, [first.body.message_id]);
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
    short = await createHarness({ IDEMPOTENCY_WINDOW_MS: '1500' });
  });
  afterAll(() => short.close());

  it('accepts the key again with a new message id once the original event has closed', async () => {
    const key = `window-${randomUUID()}`;
    const { acct, first } = await acceptedWithKey(key, short);
    expect((await send(short.http, acct, key)).status).toBe(200);
    const dedupUntil = await workflowDedupUntil(short, eventWorkflowId(acct.accountId, '', key));
    expect(await short.windows.expiresAt(acct.accountId, key)).toBe(dedupUntil);

    const handle = short.workflowHandle(acct.accountId, first.body.message_id, key);
    await eventually(
      'the original event to close at the end of its window',
      async () => {
        const d = await handle.describe();
        return d.status.name === 'RUNNING' ? undefined : d;
      },
      10_000,
    );

    expect(await short.windows.expiresAt(acct.accountId, key)).toBeUndefined();
    expect(await short.windows.lookup(acct.accountId, key)).toBeUndefined();

    const later = await send(short.http, acct, key);
    expect(later.status).toBe(202);
    expect(later.body.status).toBe('accepted');
    expect(later.body.message_id).not.toBe(first.body.message_id);
    await expectOneChargeEach(short, acct.accountId, [first.body.message_id, later.body.message_id]);
  });
});
