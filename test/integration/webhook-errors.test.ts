import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { Connection } from '@temporalio/client';
import { Redis } from 'ioredis';
import request from 'supertest';
import { buildApi } from '../../src/api';
import { freePort } from '../../src/dev/services';
import { MAX_BODY_BYTES } from '../../src/http/webhook-request';
import { createLogger } from '../../src/observability/logger';
import { KEY_CACHE_TTL_MS } from '../../src/stores/api-keys';
import { createPool } from '../../src/stores/postgres/pool';
import { createRedis } from '../../src/stores/redis/client';
import { createHarness, eventually, testConfig, type Harness, type Seeded } from '../helpers/harness';
import { expectError } from '../helpers/error-body';
import { listen, rawRequest } from '../helpers/raw-http';

let h: Harness;
let acct: Seeded;

beforeAll(async () => {
  h = await createHarness();
  acct = await h.seedAccount();
});
afterAll(() => h.close());

const post = (auth: object = acct.auth) => h.http.post('/api/webhook/').set(auth as Record<string, string>);
const valid = (employeeId = acct.employeeId) => ({ employee_id: employeeId, event: 'order.completed', payload: 'Order #1234 placed.' });

/** Waits until the clock reaches `at` (ms since epoch): for a bound stated in time, not for a condition. */
const sleepUntil = (at: number) => new Promise((r) => setTimeout(r, Math.max(0, at - Date.now())));

/** A JSON body of exactly `bytes` bytes, padded in the payload. */
function bodyOfSize(bytes: number, employeeId = acct.employeeId): string {
  const base = JSON.stringify({ employee_id: employeeId, payload: '' });
  const text = JSON.stringify({ employee_id: employeeId, payload: 'x'.repeat(bytes - Buffer.byteLength(base)) });
  expect(Buffer.byteLength(text)).toBe(bytes);
  return text;
}

describe('401: the API key', () => {
  it('asks for a key when the Authorization header is missing', async () => {
    const res = await h.http.post('/api/webhook/').send(valid());
    expectError(res, 401, 'MISSING_API_KEY');
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expect(res.body.error.message).toMatch(/Authorization/);
  });

  it.each([
    ['the Basic scheme', () => `Basic ${Buffer.from(`user:${acct.key}`).toString('base64')}`],
    ['the bare key without a scheme', () => acct.key],
    ['Bearer without a token', () => 'Bearer'],
    ['an unknown key', () => `Bearer sk-${randomUUID()}`],
  ])('refuses %s as INVALID_API_KEY', async (_what, header) => {
    const res = await post({ Authorization: header() }).send(valid());
    expectError(res, 401, 'INVALID_API_KEY');
    expect(res.headers['www-authenticate']).toBe('Bearer');
  });

  it('accepts the Bearer scheme in any letter case', async () => {
    const res = await post({ Authorization: `bearer ${acct.key}` }).send(valid());
    expect(res.status).toBe(202);
  });

  it('refuses a revoked key from the very next request on an API that has not looked it up yet', async () => {
    const a = await h.seedAccount();
    await h.keys.revokeApiKey(a.accountId, a.keyId);
    const res = await post(a.auth).send(valid(a.employeeId));
    expectError(res, 401, 'INVALID_API_KEY');
    expect(res.headers['www-authenticate']).toBe('Bearer');
  });

  it(`refuses a revoked key on the API that just accepted it once its ${KEY_CACHE_TTL_MS} ms key cache has passed`, async () => {
    const a = await h.seedAccount();
    expect((await post(a.auth).send(valid(a.employeeId))).status).toBe(202);
    const revoking = Date.now();
    await h.keys.revokeApiKey(a.accountId, a.keyId);
    // The API read the key before the revoke: whatever it cached expires by revoking + KEY_CACHE_TTL_MS.
    await sleepUntil(revoking + KEY_CACHE_TTL_MS + 100);
    const res = await post(a.auth).send(valid(a.employeeId));
    expectError(res, 401, 'INVALID_API_KEY');
    expect(res.headers['www-authenticate']).toBe('Bearer');
  });
});

describe('a key revoked while two APIs share the database', () => {
  let second: Harness;
  beforeAll(async () => {
    second = await createHarness({}, { worker: false });
  });
  afterAll(() => second?.close());

  /**
   * Each API process caches what it read about a key for KEY_CACHE_TTL_MS. A correctness bound, not
   * a speed measurement: both APIs accepted the key just before the revoke, so both hold it in their
   * cache, and both must refuse it once that bound (plus a margin) has passed since the revoke.
   */
  it(`is refused with 401 by both within ${KEY_CACHE_TTL_MS} ms of the revoke, though both had just authenticated it`, async () => {
    const a = await h.seedAccount();
    const status = (harness: Harness) => harness.http.get(`/api/webhook/${randomUUID()}`).set(a.auth);
    // Authenticated on both: an unknown message id is a 404, which only an accepted key gets.
    const before = await Promise.all([status(h), status(second)]);
    expect(before.map((r) => [r.status, r.body.error?.code])).toEqual([
      [404, 'MESSAGE_NOT_FOUND'],
      [404, 'MESSAGE_NOT_FOUND'],
    ]);
    const revoking = Date.now();
    await h.keys.revokeApiKey(a.accountId, a.keyId);
    await sleepUntil(revoking + KEY_CACHE_TTL_MS + 100);
    const after = await Promise.all([status(h), status(second)]);
    for (const res of after) {
      expectError(res, 401, 'INVALID_API_KEY');
      expect(res.headers['www-authenticate']).toBe('Bearer');
    }
    // The same holds for the webhook route, on both.
    for (const harness of [h, second]) expectError(await harness.http.post('/api/webhook/').set(a.auth).send(valid(a.employeeId)), 401, 'INVALID_API_KEY');
  });
});

describe('403: the account may not use the channel', () => {
  it('says the Webhook channel is disabled', async () => {
    const a = await h.seedAccount({ webhookEnabled: false });
    const res = await post(a.auth).send(valid(a.employeeId));
    expectError(res, 403, 'CHANNEL_DISABLED');
    expect(res.body.error.message).toMatch(/Webhook channel/);
  });

  it('says the email is not verified', async () => {
    const a = await h.seedAccount({ verified: false });
    const res = await post(a.auth).send(valid(a.employeeId));
    expectError(res, 403, 'EMAIL_NOT_VERIFIED');
    expect(res.body.error.message).toMatch(/email/);
  });

  it('reports the disabled channel first when both conditions fail', async () => {
    const a = await h.seedAccount({ webhookEnabled: false, verified: false });
    expectError(await post(a.auth).send(valid(a.employeeId)), 403, 'CHANNEL_DISABLED');
  });

  it('accepts the next request on an API that has not looked the key up since the channel was enabled', async () => {
    const a = await h.seedAccount({ webhookEnabled: false });
    expectError(await post(a.auth).send(valid(a.employeeId)), 403, 'CHANNEL_DISABLED');
    await h.accounts.updateAccount(a.accountId, { webhookEnabled: true });
    const other = await createHarness({}, { worker: false });
    try {
      expect((await other.http.post('/api/webhook/').set(a.auth).send(valid(a.employeeId))).status).toBe(202);
    } finally {
      await other.close();
    }
  });

  it(`accepts requests on the API that refused them once its ${KEY_CACHE_TTL_MS} ms key cache has passed since the channel was enabled`, async () => {
    const a = await h.seedAccount({ webhookEnabled: false });
    expectError(await post(a.auth).send(valid(a.employeeId)), 403, 'CHANNEL_DISABLED');
    const enabling = Date.now();
    await h.accounts.updateAccount(a.accountId, { webhookEnabled: true });
    await sleepUntil(enabling + KEY_CACHE_TTL_MS + 100);
    expect((await post(a.auth).send(valid(a.employeeId))).status).toBe(202);
  });
});

describe('429: the per-account rate limit', () => {
  it('refuses the request over the limit with Retry-After and RateLimit headers, and spares other accounts', async () => {
    const limited = await h.seedAccount();
    const other = await h.seedAccount();
    await h.accounts.updateAccount(limited.accountId, { rateLimitPerMinute: 2 });

    const first = await post(limited.auth).send(valid(limited.employeeId));
    const second = await post(limited.auth).send(valid(limited.employeeId));
    expect([first.status, second.status]).toEqual([202, 202]);
    expect([first.headers['ratelimit-limit'], first.headers['ratelimit-remaining']]).toEqual(['2', '1']);
    expect([second.headers['ratelimit-limit'], second.headers['ratelimit-remaining']]).toEqual(['2', '0']);

    const third = await post(limited.auth).send(valid(limited.employeeId));
    expectError(third, 429, 'RATE_LIMITED');
    const retryAfter = Number(third.headers['retry-after']);
    expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60).toBe(true);
    expect(third.headers['ratelimit-limit']).toBe('2');
    expect(third.headers['ratelimit-remaining']).toBe('0');
    expect(Number(third.headers['ratelimit-reset'])).toBe(retryAfter);

    const others = await post(other.auth).send(valid(other.employeeId));
    expect(others.status).toBe(202);
    expect(Number(others.headers['ratelimit-limit'])).toBe(h.config.RATE_LIMIT_PER_MINUTE);
  });
});

describe('413: the 64 KB body limit', () => {
  it('accepts a body of exactly 65,536 bytes', async () => {
    const res = await post().set('Content-Type', 'application/json').send(bodyOfSize(MAX_BODY_BYTES));
    expect(res.status).toBe(202);
  });

  it('refuses a body of 65,537 bytes', async () => {
    const res = await post()
      .set('Content-Type', 'application/json')
      .send(bodyOfSize(MAX_BODY_BYTES + 1));
    expectError(res, 413, 'PAYLOAD_TOO_LARGE');
  });

  describe('over a real socket', () => {
    let server: Awaited<ReturnType<typeof listen>>;
    beforeAll(async () => {
      server = await listen(h.app);
    });
    afterAll(() => server.close());

    it('refuses a declared Content-Length over the limit before a byte of the body is sent', async () => {
      const res = await rawRequest(
        server.port,
        { ...acct.auth, 'Content-Type': 'application/json', 'Content-Length': String(10 * 1024 * 1024) },
        () => undefined, // the body never comes
      );
      expect(res.status).toBe(413);
      expect(res.body.error.code).toBe('PAYLOAD_TOO_LARGE');
      expect(res.headers.connection).toBe('close');
    });

    it('cuts a chunked body off once it passes the limit, without waiting for its end', async () => {
      const res = await rawRequest(server.port, { ...acct.auth, 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' }, (req) => {
        req.write(`{"employee_id":"${acct.employeeId}","payload":"`);
        for (let i = 0; i < 9; i++) req.write('x'.repeat(8192)); // 73 KB, and the request is never ended
      });
      expect(res.status).toBe(413);
      expect(res.body.error.code).toBe('PAYLOAD_TOO_LARGE');
      expect(res.headers.connection).toBe('close');
    });

    it('refuses a gzip-compressed body with 415 without reading it', async () => {
      // Over a raw socket: superagent would JSON-encode a Buffer sent as application/json.
      const gzipped = gzipSync(JSON.stringify(valid()));
      const headers = { ...acct.auth, 'Content-Type': 'application/json', 'Content-Encoding': 'gzip', 'Content-Length': gzipped.length };
      const res = await rawRequest(server.port, headers, (req) => req.end(gzipped));
      expect(res.status).toBe(415);
      expect(res.body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    });

    it('refuses a body that is not valid UTF-8 as MALFORMED_JSON', async () => {
      const body = Buffer.concat([Buffer.from(`{"employee_id":"${acct.employeeId}","payload":"caf`), Buffer.from([0xe9]), Buffer.from('"}')]);
      const headers = { ...acct.auth, 'Content-Type': 'application/json', 'Content-Length': body.length };
      const res = await rawRequest(server.port, headers, (req) => req.end(body));
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('MALFORMED_JSON');
    });

    it('accepts UTF-8 beyond ASCII, including U+FFFD itself, and the employee receives it byte for byte', async () => {
      const payload = 'Café ☕ \uFFFD 👍 日本語 ﷽';
      const res = await h.http
        .post('/api/webhook/')
        .set(acct.auth)
        .send({ ...valid(), payload });
      expect(res.status).toBe(202);
      await h.workflowHandle(acct.accountId, res.body.message_id).result();
      const received = (await h.memory.inbox(acct.employeeId)).find((e) => e.messageId === res.body.message_id && e.direction === 'received');
      const expected = `[Webhook: order.completed] ${payload}`;
      expect(Buffer.from(received!.text, 'utf8').equals(Buffer.from(expected, 'utf8'))).toBe(true);
    });

    it('accepts a chunked body under the limit', async () => {
      const res = await rawRequest(server.port, { ...acct.auth, 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' }, (req) => {
        const text = JSON.stringify(valid());
        req.write(text.slice(0, 20));
        req.end(text.slice(20));
      });
      expect(res.status).toBe(202);
    });
  });
});

describe('415: the body must be JSON', () => {
  it('refuses text/plain, even when the text is JSON', async () => {
    const res = await post().set('Content-Type', 'text/plain').send(JSON.stringify(valid()));
    expectError(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('refuses a form body', async () => {
    const res = await post().type('form').send(valid());
    expectError(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('refuses a body without a Content-Type', async () => {
    const res = await post()
      .unset('Content-Type')
      .send(Buffer.from(JSON.stringify(valid())));
    expectError(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it.each(['application/json; charset=utf-8', 'application/ld+json', 'application/vnd.api+json'])('accepts JSON sent as %s', async (type) => {
    const res = await post().set('Content-Type', type).send(JSON.stringify(valid()));
    expect(res.status).toBe(202);
  });
});

describe('400: the request itself', () => {
  it('refuses malformed JSON', async () => {
    const res = await post().set('Content-Type', 'application/json').send('{"employee_id": "');
    expectError(res, 400, 'MALFORMED_JSON');
  });

  it.each(['null', '"a string"', '42'])('refuses the JSON value %s, which is not an object', async (text) => {
    const res = await post().set('Content-Type', 'application/json').send(text);
    expect(res.status).toBe(400);
    expect(['MALFORMED_JSON', 'INVALID_REQUEST']).toContain(res.body.error.code);
  });

  it('refuses a JSON array', async () => {
    const res = await post()
      .set('Content-Type', 'application/json')
      .send(JSON.stringify([valid()]));
    expectError(res, 400, 'INVALID_REQUEST');
  });

  it('refuses an empty body', async () => {
    const res = await post().set('Content-Type', 'application/json');
    expectError(res, 400, 'INVALID_REQUEST');
  });

  it.each<[string, () => Record<string, unknown>, string]>([
    ['a missing employee_id', () => ({ payload: 'x' }), 'employee_id'],
    ['a null employee_id', () => ({ employee_id: null, payload: 'x' }), 'employee_id'],
    ['an empty employee_id', () => ({ employee_id: '', payload: 'x' }), 'employee_id'],
    ['a non-UUID employee_id', () => ({ employee_id: 'emp_123', payload: 'x' }), 'employee_id'],
    ['a missing payload', () => ({ employee_id: acct.employeeId }), 'payload'],
    ['a whitespace-only payload', () => ({ employee_id: acct.employeeId, payload: '  \n ' }), 'payload'],
    ['a numeric payload', () => ({ employee_id: acct.employeeId, payload: 1234 }), 'payload'],
    ['a numeric event', () => ({ employee_id: acct.employeeId, payload: 'x', event: 5 }), 'event'],
    ['an event of 129 characters', () => ({ employee_id: acct.employeeId, payload: 'x', event: 'e'.repeat(129) }), 'event'],
    ['an event with a space', () => ({ employee_id: acct.employeeId, payload: 'x', event: 'order completed' }), 'event'],
  ])('refuses %s and names the field', async (_what, body, field) => {
    const res = await post().send(body());
    expectError(res, 400, 'INVALID_REQUEST', field);
    expect(res.body.error.message).toMatch(field);
  });

  it('refuses an Idempotency-Key of 256 characters', async () => {
    const res = await post().set('Idempotency-Key', 'k'.repeat(256)).send(valid());
    expectError(res, 400, 'INVALID_IDEMPOTENCY_KEY');
  });

  it('refuses an Idempotency-Key with non-ASCII bytes', async () => {
    // Node's client only sends Latin-1 header bytes; é (0xE9) is the non-ASCII it lets through.
    const res = await post().set('Idempotency-Key', 'café-1234').send(valid());
    expectError(res, 400, 'INVALID_IDEMPOTENCY_KEY');
  });

  it('refuses an empty Idempotency-Key', async () => {
    const res = await post().set('Idempotency-Key', '').send(valid());
    expectError(res, 400, 'INVALID_IDEMPOTENCY_KEY');
  });
});

describe('404: the employee', () => {
  it('refuses an employee that does not exist', async () => {
    const res = await post().send(valid(randomUUID()));
    expectError(res, 404, 'EMPLOYEE_NOT_FOUND', 'employee_id');
  });

  it("answers another account's employee exactly as a missing one, apart from the request id", async () => {
    const other = await h.seedAccount();
    const foreign = await post().send(valid(other.employeeId));
    await h.employees.deleteEmployee(other.employeeId);
    const missing = await post().send(valid(other.employeeId));
    expectError(foreign, 404, 'EMPLOYEE_NOT_FOUND', 'employee_id');
    expect(foreign.body.request_id).not.toBe(missing.body.request_id);
    expect({ ...foreign.body, request_id: undefined }).toEqual({ ...missing.body, request_id: undefined });
  });
});

describe('the order of the checks: 401, 403, 429, 413, 415, 400, 404', () => {
  it('answers 401 for a bad key with a bad body', async () => {
    const res = await post({ Authorization: 'Bearer sk-nope' }).set('Content-Type', 'application/json').send('{bad');
    expectError(res, 401, 'INVALID_API_KEY');
  });

  it('answers 403 for a disabled channel with an oversize body', async () => {
    const a = await h.seedAccount({ webhookEnabled: false });
    const res = await post(a.auth)
      .set('Content-Type', 'application/json')
      .send(bodyOfSize(MAX_BODY_BYTES + 1, a.employeeId));
    expectError(res, 403, 'CHANNEL_DISABLED');
  });

  it('answers 429 for a rate-limited account with a malformed body', async () => {
    const a = await h.seedAccount();
    await h.accounts.updateAccount(a.accountId, { rateLimitPerMinute: 1 });
    expect((await post(a.auth).set('Content-Type', 'application/json').send('{bad')).status).toBe(400);
    const res = await post(a.auth).set('Content-Type', 'application/json').send('{bad');
    expectError(res, 429, 'RATE_LIMITED');
  });

  it('answers 413 for an oversize body that is not JSON', async () => {
    const res = await post()
      .set('Content-Type', 'text/plain')
      .send('x'.repeat(MAX_BODY_BYTES + 1));
    expectError(res, 413, 'PAYLOAD_TOO_LARGE');
  });

  it('answers 415 for a body that is neither declared JSON nor valid JSON', async () => {
    const res = await post().set('Content-Type', 'text/plain').send('{bad');
    expectError(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('answers 415 for a non-JSON content type even without a body', async () => {
    const res = await post().set('Content-Type', 'text/plain').send('');
    expectError(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('answers 400 for a bad body naming an unknown employee', async () => {
    const res = await post().send({ employee_id: randomUUID() });
    expectError(res, 400, 'INVALID_REQUEST', 'payload');
  });

  it('answers 400 for a bad Idempotency-Key naming an unknown employee', async () => {
    const res = await post().set('Idempotency-Key', 'k'.repeat(256)).send(valid(randomUUID()));
    expectError(res, 400, 'INVALID_IDEMPOTENCY_KEY');
  });
});

describe('routes and methods', () => {
  it('answers an unknown route with a JSON 404', async () => {
    const res = await h.http.post('/api/webhooks/').set(acct.auth).send(valid());
    expectError(res, 404, 'NOT_FOUND');
    expectError(await h.http.get('/nothing-here'), 404, 'NOT_FOUND');
  });

  // GET /api/webhook is the dead-letter list (?status=failed).
  it.each(['put', 'patch', 'delete'] as const)('answers %s on /api/webhook/ with a JSON 405 that names POST', async (method) => {
    const res = await h.http[method]('/api/webhook/').set(acct.auth);
    expectError(res, 405, 'METHOD_NOT_ALLOWED');
    expect(res.headers.allow).toMatch(/POST/);
  });

  it('answers a method the router does not know with a 4xx, not a 5xx', async () => {
    const res = await h.http.propfind('/api/webhook/').set(acct.auth);
    expectError(res, 405, 'METHOD_NOT_ALLOWED');
    expect(res.headers.allow).toMatch(/POST/);
  });

  it.each<[string, (r: request.Test) => request.Test, number, string]>([
    ['a body of only whitespace', (r) => r.set('Content-Type', 'application/json').send('   '), 400, 'MALFORMED_JSON'],
    ['a deeply nested array', (r) => r.set('Content-Type', 'application/json').send(`${'['.repeat(5000)}${']'.repeat(5000)}`), 400, 'INVALID_REQUEST'],
    ['an unknown Content-Encoding', (r) => r.set('Content-Type', 'application/json').set('Content-Encoding', 'br2').send('{}'), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    [
      'a gzip header on a plain body',
      (r) => r.set('Content-Type', 'application/json').set('Content-Encoding', 'gzip').send('{}'),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    ],
    ['an unknown charset', (r) => r.set('Content-Type', 'application/json; charset=klingon').send('{}'), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['a Latin-1 charset', (r) => r.set('Content-Type', 'application/json; charset=iso-8859-1').send(JSON.stringify(valid())), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    [
      'a __proto__ key',
      (r) => r.set('Content-Type', 'application/json').send('{"__proto__":{"admin":true},"employee_id":"x","payload":"y"}'),
      400,
      'MALFORMED_JSON',
    ],
  ])('answers %s with a 4xx, never a 5xx', async (_what, shape, status, code) => {
    expectError(await shape(post()), status, code);
  });

  it('accepts a NUL byte in the payload and completes the event; the inbox (PostgreSQL text) holds it as U+FFFD', async () => {
    const a = await h.seedAccount();
    const res = await post(a.auth).send({ employee_id: a.employeeId, payload: 'a\u0000b' });
    expect(res.status).toBe(202);
    const handle = h.workflowHandle(a.accountId, res.body.message_id);
    try {
      const received = await eventually(
        'the event in the inbox',
        async () => (await h.memory.inbox(a.employeeId)).find((e) => e.messageId === res.body.message_id && e.direction === 'received'),
        15_000,
      );
      expect(received.text).toBe('[Webhook] a\uFFFDb');
      expect((await handle.result()).status).toBe('completed');
    } finally {
      // An event stuck on this payload must not hold the worker's shutdown (and the suite) after the test.
      if ((await handle.describe()).status.name === 'RUNNING') await handle.terminate('test cleanup');
    }
  }, 30_000);
});

describe('408 and 502: slow clients and missing infrastructure', () => {
  it('answers 408 when the body stalls past the body timeout', async () => {
    const connection = Connection.lazy({ address: h.config.TEMPORAL_ADDRESS! });
    const app = buildApi(testConfig({ BODY_TIMEOUT_MS: '300' }), { db: h.appDb, redis: h.redis, connection }, createLogger(h.config, 'test-api'));
    const server = await listen(app);
    try {
      const res = await rawRequest(server.port, { ...acct.auth, 'Content-Type': 'application/json', 'Content-Length': '200' }, (req) => {
        req.write('{"employee_id":'); // and then nothing
      });
      expect(res.status).toBe(408);
      expect(res.body.error.code).toBe('REQUEST_TIMEOUT');
    } finally {
      await server.close();
      await connection.close();
    }
  });

  it('answers 502 when Temporal is unreachable, and the same Idempotency-Key is then accepted by a healthy API', async () => {
    const dead = '127.0.0.1:1';
    const connection = Connection.lazy({ address: dead });
    const app = buildApi(testConfig({ TEMPORAL_ADDRESS: dead }), { db: h.appDb, redis: h.redis, connection }, createLogger(h.config, 'test-api'));
    const key = `retry-${randomUUID()}`;
    try {
      const res = await request(app.callback()).post('/api/webhook/').set(acct.auth).set('Idempotency-Key', key).send(valid());
      expectError(res, 502, 'UPSTREAM_UNAVAILABLE');
    } finally {
      await connection.close().catch(() => undefined);
    }
    const retry = await post().set('Idempotency-Key', key).send(valid());
    expect(retry.status).toBe(202);
    expect(retry.body.status).toBe('accepted');
  });

  it('answers 502 when Redis is unreachable', async () => {
    const redis = new Redis('redis://127.0.0.1:1', { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    redis.on('error', () => undefined);
    const connection = Connection.lazy({ address: h.config.TEMPORAL_ADDRESS! });
    const app = buildApi(testConfig(), { db: h.appDb, redis, connection }, createLogger(h.config, 'test-api'));
    try {
      const res = await request(app.callback()).post('/api/webhook/').set(acct.auth).send(valid());
      expectError(res, 502, 'UPSTREAM_UNAVAILABLE');
    } finally {
      redis.disconnect();
      await connection.close();
    }
  });

  it('answers 502 when PostgreSQL is unreachable, and reserves nothing', async () => {
    const a = await h.seedAccount({ credits: 50 });
    const db = createPool(`postgres://postgres@127.0.0.1:${await freePort()}/sistava`, { name: 'test-dead-db', failFast: true });
    const connection = Connection.lazy({ address: h.config.TEMPORAL_ADDRESS! });
    const app = buildApi(testConfig(), { db, redis: h.redis, connection }, createLogger(h.config, 'test-api'));
    try {
      const res = await request(app.callback()).post('/api/webhook/').set(a.auth).send(valid(a.employeeId));
      expectError(res, 502, 'UPSTREAM_UNAVAILABLE');
      expect(JSON.stringify(res.body)).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|postgres/i);
    } finally {
      await connection.close();
      await db.end();
    }
    expect(await h.ledger.counters(a.accountId)).toEqual({ balance: 50, reserved: 0 });
  });
});

describe('/readyz', () => {
  it('answers 200 when PostgreSQL, Redis and Temporal all answer', async () => {
    const res = await h.http.get('/readyz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ready' });
  });

  it("answers 503 naming only Redis, without any error text, when the app's Redis is unreachable", async () => {
    const closed = await freePort();
    const redis = createRedis(`redis://127.0.0.1:${closed}`, { failFast: true, name: 'test-dead-redis' });
    const connection = Connection.lazy({ address: h.config.TEMPORAL_ADDRESS! });
    const app = buildApi(testConfig(), { db: h.appDb, redis, connection }, createLogger(h.config, 'test-api'));
    try {
      const res = await request(app.callback()).get('/readyz');
      expect(res.status).toBe(503);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.body).toEqual({ status: 'unavailable', down: ['redis'] });
      expect(res.text).not.toMatch(new RegExp(`ECONNREFUSED|127\\.0\\.0\\.1|${closed}|writeable|connect`, 'i'));
    } finally {
      redis.disconnect();
      await connection.close();
    }
  });
});
