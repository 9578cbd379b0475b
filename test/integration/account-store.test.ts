import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { AccountStore } from '../../src/stores/accounts';
import { ApiKeyStore, hashApiKey, KEY_CACHE_TTL_MS, LAST_USED_GRANULARITY_MS } from '../../src/stores/api-keys';
import { EmployeeMemory } from '../../src/stores/employee-memory';
import { createPool } from '../../src/stores/postgres/pool';
import type { EmployeeOutcome } from '../../src/domain/events';
import { eventually } from '../helpers/harness';
import { statementLog, type StatementLog } from '../helpers/statement-log';

/**
 * The stores against the suite's PostgreSQL: what resolving a key returns and writes, and what it
 * sends the database, read from the server's own statement log.
 */
let db: pg.Pool;
let logged: StatementLog;
let accounts: AccountStore;
/** Key lookups on a pool whose every statement the server logs. */
let keys: ApiKeyStore;

beforeAll(() => {
  db = createPool(process.env.TEST_DATABASE_URL!, { name: 'account-store-test' });
  logged = statementLog(db, { failFast: false });
  accounts = new AccountStore(db);
  keys = new ApiKeyStore(logged.pool);
});
afterAll(async () => {
  await logged?.end();
  await db?.end();
});

async function seed() {
  const account = await accounts.createAccount({ email: `${randomUUID()}@example.test`, emailVerified: true, webhookEnabled: true });
  const { key, info } = await new ApiKeyStore(db).createApiKey(account.id, 'test');
  return { account, key, keyId: info.id };
}

const lastUsed = async (keyId: string) => (await new ApiKeyStore(db).getApiKey(keyId))?.lastUsedAt;
const sleepUntil = (at: number) => new Promise((r) => setTimeout(r, Math.max(0, at - Date.now())));

describe('ApiKeyStore.resolveKey', () => {
  it('returns the key id and its account for a live key', async () => {
    const { account, key, keyId } = await seed();
    expect(await keys.resolveKey(key)).toEqual({ keyId, account });
    expect(await keys.authenticate(key)).toEqual({ keyId, accountId: account.id });
  });

  it('returns undefined for an unknown key, a revoked key and a key whose account is gone', async () => {
    const { account, key, keyId } = await seed();
    expect(await keys.resolveKey(`sk-${randomUUID()}`)).toBeUndefined();

    // The schema never lets an account go while it has keys; a restore or a hand edit might. With
    // the foreign-key triggers off for one session (replica role), the account and its balance go.
    const orphan = await seed();
    const client = await db.connect();
    try {
      await client.query("SET session_replication_role = 'replica'");
      await client.query('DELETE FROM credit_balances WHERE account_id = $1', [orphan.account.id]);
      expect((await client.query('DELETE FROM accounts WHERE id = $1', [orphan.account.id])).rowCount).toBe(1);
      await client.query("SET session_replication_role = 'origin'");
    } finally {
      client.release();
    }
    expect(await keys.resolveKey(orphan.key)).toBeUndefined();
    // Leave no row behind that breaks the schema's promise for the tests after this one.
    await db.query('DELETE FROM api_keys WHERE account_id = $1', [orphan.account.id]);

    await new ApiKeyStore(db).revokeApiKey(account.id, keyId);
    expect(await keys.resolveKey(key)).toBeUndefined();
  });

  it('reads the key and its account in one statement, by the hash alone, and then answers from its cache', async () => {
    const { key, keyId } = await seed();
    const first = await logged.during(() => keys.resolveKey(key));
    // The first use also writes last_used_at, off the caller's path: wait for it, so it is not taken for the second lookup.
    await eventually('last_used_at written', async () => ((await lastUsed(keyId)) ? true : undefined));
    // The lookup, and at most the last_used_at write it started.
    expect(first.statements.filter((s) => s.name !== 'api_keys_touch')).toEqual([
      { name: 'api_keys_resolve', sql: expect.stringMatching(/JOIN accounts/), parameters: `$1 = '${hashApiKey(key)}'` },
    ]);
    expect(first.log).not.toContain(key.slice(3));

    const cached = await logged.during(() => keys.resolveKey(key));
    expect(cached.statements).toEqual([]);
  });

  it(`reads the key again once its cache entry is ${KEY_CACHE_TTL_MS} ms old, and then sees a revoke`, async () => {
    const { account, key, keyId } = await seed();
    expect(await keys.resolveKey(key)).toMatchObject({ keyId });
    const revoking = Date.now();
    await new ApiKeyStore(db).revokeApiKey(account.id, keyId);
    await sleepUntil(revoking + KEY_CACHE_TTL_MS + 100);
    const again = await logged.during(async () => expect(await keys.resolveKey(key)).toBeUndefined());
    expect(again.statements.map((s) => s.name)).toEqual(['api_keys_resolve']);
  });

  it('writes last_used_at on first use, then at most once per granularity window', async () => {
    const { key, keyId } = await seed();
    expect(await lastUsed(keyId)).toBeUndefined();

    await keys.resolveKey(key);
    const first = await eventually('last_used_at written', () => lastUsed(keyId));
    expect(Date.now() - Date.parse(first)).toBeLessThan(LAST_USED_GRANULARITY_MS);

    // Another process (a store of its own, no cache) reads the key: recent enough, so no write.
    const other = statementLog(db, { failFast: false });
    try {
      const second = await other.during(() => new ApiKeyStore(other.pool).resolveKey(key));
      expect(second.statements.map((s) => s.name)).toEqual(['api_keys_resolve']);
      expect(await lastUsed(keyId)).toBe(first);

      // Once last_used_at is older than the window, the next reader refreshes it.
      const stale = new Date(Date.now() - LAST_USED_GRANULARITY_MS - 1_000);
      await db.query('UPDATE api_keys SET last_used_at = $1 WHERE id = $2', [stale, keyId]);
      await new ApiKeyStore(other.pool).resolveKey(key);
      const refreshed = await eventually('last_used_at refreshed', async () => {
        const at = await lastUsed(keyId);
        return at && Date.parse(at) > stale.getTime() ? at : undefined;
      });
      expect(Date.now() - Date.parse(refreshed)).toBeLessThan(LAST_USED_GRANULARITY_MS);
    } finally {
      await other.end();
    }
  });
});

describe('EmployeeMemory.record', () => {
  it('records an event in one statement, and once: a retry writes nothing and returns the first outcome', async () => {
    const memory = new EmployeeMemory(logged.pool, 20);
    const employeeId = randomUUID();
    const [m1, m2] = [randomUUID(), randomUUID()];
    const outcome: EmployeeOutcome = { runtime: 'inbox', reply: 'On it.', usage: { promptTokens: 0, completionTokens: 0, runtimeMs: 0 } };
    await memory.record(employeeId, m1, 'first', outcome);
    const { statements } = await logged.during(() => memory.record(employeeId, m2, 'second', outcome));
    expect(statements.map((s) => s.name)).toEqual(['memory_record_once']);

    const retry = await memory.record(employeeId, m2, 'second again', { ...outcome, reply: 'Another reply.' });
    expect(retry).toEqual(outcome);
    expect((await memory.inbox(employeeId)).map((e) => `${e.messageId} ${e.direction} ${e.text}`)).toEqual([
      `${m2} replied On it.`,
      `${m2} received second`,
      `${m1} replied On it.`,
      `${m1} received first`,
    ]);
    expect(await memory.recentTurns(employeeId)).toEqual([
      { role: 'user', content: 'first' },
      { role: 'assistant', content: 'On it.' },
      { role: 'user', content: 'second' },
      { role: 'assistant', content: 'On it.' },
    ]);
  });
});
