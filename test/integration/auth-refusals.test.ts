import { randomUUID } from 'node:crypto';
import { Connection } from '@temporalio/client';
import request from 'supertest';
import { buildApi } from '../../src/api';
import { createLogger } from '../../src/observability/logger';
import { ApiKeyStore, generateApiKey } from '../../src/stores/api-keys';
import { expectError } from '../helpers/error-body';
import { createHarness, testConfig, type Harness } from '../helpers/harness';
import { statementLog, type StatementLog } from '../helpers/statement-log';

/**
 * Unauthenticated traffic is cheap: a string that is not shaped like a key costs no lookup, an
 * address that keeps failing is refused before its keys are even hashed, and made-up keys never
 * push real ones out of the key cache.
 */
let h: Harness;
let logged: StatementLog;
let connection: Connection;

beforeAll(async () => {
  h = await createHarness();
  logged = statementLog(h.db);
  connection = Connection.lazy({ address: h.config.TEMPORAL_ADDRESS! });
});
afterAll(async () => {
  await connection?.close();
  await logged?.end();
  await h?.close();
});

/** An API of its own on the statement-logged pool, with the given settings. */
function api(overrides: Record<string, string> = {}) {
  const config = testConfig(overrides);
  return request(buildApi(config, { db: logged.pool, redis: h.redis, connection }, createLogger(config, 'api')).callback());
}

const usage = (http: ReturnType<typeof api>, key: string, headers: Record<string, string> = {}) =>
  http
    .get('/api/billing/usage')
    .set({ Authorization: `Bearer ${key}`, ...headers })
    .then((res) => res);

describe('a malformed key', () => {
  it('is refused with 401 before any database lookup, while a well-formed unknown key is looked up', async () => {
    const acct = await h.seedAccount();
    const http = api();
    expect((await usage(http, acct.key)).status).toBe(200); // the pool now holds a connection whose statements are logged

    for (const malformed of ['not-a-key', `${acct.key}x`, acct.key.slice(0, -1), `pk-${acct.key.slice(3)}`, `sk-${'!'.repeat(43)}`]) {
      const { statements } = await logged.during(async () => {
        const res = await usage(http, malformed);
        expectError(res, 401, 'INVALID_API_KEY');
        expect(res.headers['www-authenticate']).toBe('Bearer');
      });
      expect([malformed, statements.map((s) => s.name)]).toEqual([malformed, []]);
    }
    const { statements } = await logged.during(async () => expectError(await usage(http, generateApiKey()), 401, 'INVALID_API_KEY'));
    expect(statements.map((s) => s.name)).toEqual(['api_keys_resolve']);
  });
});

describe('failed authentications', () => {
  it('are limited per client address: past the limit its requests get 429 with Retry-After, even with a valid key', async () => {
    const acct = await h.seedAccount();
    const http = api({ AUTH_FAILURES_PER_MINUTE: '3' });
    for (let i = 0; i < 3; i++) expectError(await usage(http, generateApiKey()), 401, 'INVALID_API_KEY');
    const { statements } = await logged.during(async () => {
      const refused = await usage(http, generateApiKey());
      expectError(refused, 429, 'TOO_MANY_AUTH_FAILURES');
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60);
    });
    expect(statements).toEqual([]); // refused before the key was looked up
    expectError(await usage(http, acct.key), 429, 'TOO_MANY_AUTH_FAILURES');
    // Probes are not behind it.
    expect((await http.get('/healthz')).status).toBe(200);
    // Another API process keeps its own count: the same key is fine there.
    expect((await usage(api({ AUTH_FAILURES_PER_MINUTE: '3' }), acct.key)).status).toBe(200);
  });

  it('count against the socket address, not a forged X-Forwarded-For, unless TRUST_PROXY names the proxy', async () => {
    const acct = await h.seedAccount();
    const direct = api({ AUTH_FAILURES_PER_MINUTE: '2' });
    for (let i = 0; i < 2; i++) expectError(await usage(direct, generateApiKey(), { 'X-Forwarded-For': `203.0.113.${i}` }), 401, 'INVALID_API_KEY');
    expectError(await usage(direct, generateApiKey(), { 'X-Forwarded-For': '203.0.113.99' }), 429, 'TOO_MANY_AUTH_FAILURES');

    // Behind a trusted proxy (here: loopback, where supertest connects from), each forwarded client has its own count.
    const proxied = api({ AUTH_FAILURES_PER_MINUTE: '2', TRUST_PROXY: '127.0.0.1, ::1' });
    const client = (n: number) => ({ 'X-Forwarded-For': `198.51.100.${n}` });
    for (let i = 0; i < 2; i++) expectError(await usage(proxied, generateApiKey(), client(1)), 401, 'INVALID_API_KEY');
    expectError(await usage(proxied, generateApiKey(), client(1)), 429, 'TOO_MANY_AUTH_FAILURES');
    expectError(await usage(proxied, generateApiKey(), client(2)), 401, 'INVALID_API_KEY');
    expect((await usage(proxied, acct.key, client(2))).status).toBe(200);
    // A client cannot pose as another by prepending to the header: the proxy appends the real address.
    expectError(await usage(proxied, acct.key, { 'X-Forwarded-For': '198.51.100.2, 198.51.100.1' }), 429, 'TOO_MANY_AUTH_FAILURES');
  });
});

describe('the key cache', () => {
  it('keeps a real key however many unknown keys are tried', async () => {
    const acct = await h.seedAccount();
    const keys = new ApiKeyStore(logged.pool, { cachedKeys: 10 });
    expect((await keys.resolveKey(acct.key))?.keyId).toBe(acct.keyId);
    const { statements } = await logged.during(async () => {
      for (let i = 0; i < 50; i++) expect(await keys.resolveKey(generateApiKey())).toBeUndefined();
      expect((await keys.resolveKey(acct.key))?.keyId).toBe(acct.keyId);
    });
    // Fifty lookups of unknown keys, none of the real one: it was still cached.
    // (The first resolution's last_used_at write runs off the request's path and may land in here.)
    expect(statements.map((s) => s.name).filter((name) => name !== 'api_keys_touch')).toEqual(Array.from({ length: 50 }, () => 'api_keys_resolve'));
  });

  it('remembers an unknown key apart, briefly: a repeat costs no query', async () => {
    const keys = new ApiKeyStore(logged.pool);
    const unknown = `sk-${randomUUID().replace(/-/g, '')}${'A'.repeat(11)}`;
    const { statements } = await logged.during(async () => {
      expect(await keys.resolveKey(unknown)).toBeUndefined();
      expect(await keys.resolveKey(unknown)).toBeUndefined();
    });
    expect(statements.map((s) => s.name)).toEqual(['api_keys_resolve']);
  });
});
