import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { connectRedis } from '../../src/redis';
import { AccountStore, LAST_USED_GRANULARITY_MS } from '../../src/stores/account-store';
import { EmployeeMemory } from '../../src/stores/employee-memory';
import { keys } from '../../src/stores/keys';
import type { EmployeeOutcome } from '../../workflows/types';

/** The stores against the suite's Redis: what resolving a key returns and writes, and what it sends. */
let redis: Redis;
let accounts: AccountStore;

beforeAll(async () => {
  redis = await connectRedis(process.env.TEST_REDIS_URL!, { name: 'account-store-test' });
  accounts = new AccountStore(redis);
});
afterAll(() => redis?.disconnect());

async function seed() {
  const account = await accounts.createAccount({ email: `${randomUUID()}@example.test`, emailVerified: true, webhookEnabled: true });
  const { key, info } = await accounts.createApiKey(account.id, 'test');
  return { account, key, keyId: info.id };
}

const lastUsed = async (keyId: string) => (await accounts.getApiKey(keyId))?.lastUsedAt;

/** The commands `run` sends on this test's own connection, as MONITOR reports them. */
async function commandsSentBy(run: () => Promise<unknown>): Promise<string[][]> {
  const monitor = await redis.monitor();
  const own = `127.0.0.1:${(redis as unknown as { stream: { localPort: number } }).stream.localPort}`;
  const seen: string[][] = [];
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (source === own) seen.push(args);
  });
  try {
    await run();
    // MONITOR reports asynchronously; a PING on the monitor's own connection marks the end.
    await redis.ping('end-of-run');
    for (let i = 0; i < 100 && !seen.some((c) => c[0] === 'ping'); i++) await new Promise((r) => setTimeout(r, 10));
    return seen.filter((c) => c[0] !== 'ping');
  } finally {
    monitor.disconnect();
  }
}

describe('AccountStore.resolveKey', () => {
  it('returns the key id and its account for a live key', async () => {
    const { account, key, keyId } = await seed();
    expect(await accounts.resolveKey(key)).toEqual({ keyId, account });
    expect(await accounts.authenticate(key)).toEqual({ keyId, accountId: account.id });
  });

  it('returns undefined for an unknown key, a revoked key and a key whose account is gone', async () => {
    const { account, key, keyId } = await seed();
    expect(await accounts.resolveKey(`sk-${randomUUID()}`)).toBeUndefined();

    const orphan = await seed();
    await redis.del(keys.account(orphan.account.id));
    expect(await accounts.resolveKey(orphan.key)).toBeUndefined();

    await accounts.revokeApiKey(account.id, keyId);
    expect(await accounts.resolveKey(key)).toBeUndefined();
  });

  it('reads the key and its account in one command, sending the script by SHA once the connection has it', async () => {
    const { key } = await seed();
    await accounts.resolveKey(key);
    const commands = await commandsSentBy(() => accounts.resolveKey(key));
    expect(commands).toEqual([['evalsha', expect.stringMatching(/^[0-9a-f]{40}$/), '1', expect.stringMatching(/^sv:apikey:[0-9a-f]{64}$/), expect.any(String), expect.any(String)]]);
    expect(JSON.stringify(commands)).not.toContain(key.slice(3));
  });

  it('writes last_used_at on first use, then at most once per granularity window', async () => {
    const { key, keyId } = await seed();
    expect(await lastUsed(keyId)).toBeUndefined();

    await accounts.resolveKey(key);
    const first = await lastUsed(keyId);
    expect(first).toEqual(expect.any(String));
    await new Promise((r) => setTimeout(r, 5));
    await accounts.resolveKey(key);
    expect(await lastUsed(keyId)).toBe(first);

    const stale = new Date(Date.now() - LAST_USED_GRANULARITY_MS - 1_000).toISOString();
    await redis.hset(keys.keyRecord(keyId), 'last_used_at', stale);
    await accounts.resolveKey(key);
    const refreshed = (await lastUsed(keyId))!;
    expect(refreshed > stale).toBe(true);
    expect(Date.now() - Date.parse(refreshed)).toBeLessThan(LAST_USED_GRANULARITY_MS);
  });
});

describe('EmployeeMemory.record', () => {
  it('sends its script by SHA once the connection has it, and records an event once', async () => {
    const memory = new EmployeeMemory(redis, 20);
    const employeeId = randomUUID();
    const outcome: EmployeeOutcome = { runtime: 'inbox', reply: 'On it.', usage: { promptTokens: 0, completionTokens: 0, runtimeMs: 0 } };
    await memory.record(employeeId, 'm1', 'first', outcome);
    const commands = await commandsSentBy(() => memory.record(employeeId, 'm2', 'second', outcome));
    expect(commands).toHaveLength(1);
    expect(commands[0].slice(0, 3)).toEqual(['evalsha', expect.stringMatching(/^[0-9a-f]{40}$/), '3']);

    await memory.record(employeeId, 'm2', 'second again', outcome);
    expect((await memory.inbox(employeeId)).map((e) => `${e.messageId} ${e.direction}`)).toEqual(['m2 replied', 'm2 received', 'm1 replied', 'm1 received']);
  });
});
