import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { keys } from './keys';
import { redisScript } from './redis-script';

export interface Account {
  id: string;
  email: string;
  emailVerified: boolean;
  webhookEnabled: boolean;
  /** Per-account override of the default rate limit, requests per minute. */
  rateLimitPerMinute?: number;
  createdAt: string;
}

export interface Employee {
  id: string;
  accountId: string;
  name: string;
  instructions: string;
  model?: string;
  createdAt: string;
}

export interface ApiKeyInfo {
  id: string;
  accountId: string;
  name: string;
  prefix: string;
  createdAt: string;
  lastUsedAt?: string;
  revokedAt?: string;
}

export class NotFoundError extends Error {
  constructor(readonly what: string, readonly id: string) {
    super(`${what} ${id} not found`);
  }
}

/** Raw keys carry 256 random bits, so one SHA-256 is enough: no salt or slow hash needed. */
export function hashApiKey(rawKey: string): string {
  return createHash('sha256').update(rawKey, 'utf8').digest('hex');
}

export function generateApiKey(): string {
  return `sk-${randomBytes(32).toString('base64url')}`;
}

const flag = (v: boolean) => (v ? '1' : '0');
const now = () => new Date().toISOString();

/**
 * A key's `last_used_at` is rewritten only once it is this old: at most one write a minute per busy
 * key instead of one per request. It answers "is this key still in use", which a minute does not change.
 */
export const LAST_USED_GRANULARITY_MS = 60_000;

/**
 * Key hash → account in one round trip: the key's reference, then its account's hash, and
 * `last_used_at` when the stored one is older than ARGV[2]. ISO-8601 UTC times have a fixed width,
 * so they order as strings. Nil for an unknown or revoked key (revocation deletes the index) or a
 * missing account. The account and key-record keys follow from the reference, so they cannot be
 * declared in KEYS and may live in other slots: this script needs a single Redis, not a cluster.
 * KEYS: the key's hash index. ARGV: now, now minus the granularity.
 */
const resolveKeyScript = redisScript<[string, string[]] | null>(
  'svResolveApiKey',
  `
local ref = redis.call('GET', KEYS[1])
if not ref then return false end
local key = cjson.decode(ref)
local account = redis.call('HGETALL', '${keys.account('')}' .. key.accountId)
if #account == 0 then return false end
local record = '${keys.keyRecord('')}' .. key.keyId
local last = redis.call('HGET', record, 'last_used_at')
if not last or last < ARGV[2] then redis.call('HSET', record, 'last_used_at', ARGV[1]) end
return {key.keyId, account}
`,
  1,
);

function toAccount(h: Record<string, string>): Account | undefined {
  if (!h.id) return undefined;
  return {
    id: h.id,
    email: h.email,
    emailVerified: h.email_verified === '1',
    webhookEnabled: h.webhook_enabled === '1',
    rateLimitPerMinute: h.rate_limit_per_minute ? Number(h.rate_limit_per_minute) : undefined,
    createdAt: h.created_at,
  };
}

/** HGETALL as a Lua script returns it: field, value, field, value… */
function fromPairs(flat: string[]): Record<string, string> {
  const h: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) h[flat[i]] = flat[i + 1];
  return h;
}

/** Accounts, employees and API keys, stored in Redis hashes. */
export class AccountStore {
  constructor(private readonly redis: Redis) {}

  async createAccount(input: { email: string; emailVerified?: boolean; webhookEnabled?: boolean }): Promise<Account> {
    const id = randomUUID();
    const claimed = await this.redis.set(keys.accountByEmail(input.email), id, 'NX');
    if (claimed !== 'OK') throw new Error(`an account with email ${input.email} already exists`);
    const account: Account = {
      id,
      email: input.email,
      emailVerified: input.emailVerified ?? false,
      webhookEnabled: input.webhookEnabled ?? false,
      createdAt: now(),
    };
    await this.redis.hset(keys.account(id), {
      id,
      email: account.email,
      email_verified: flag(account.emailVerified),
      webhook_enabled: flag(account.webhookEnabled),
      created_at: account.createdAt,
    });
    return account;
  }

  async getAccount(id: string): Promise<Account | undefined> {
    return toAccount(await this.redis.hgetall(keys.account(id)));
  }

  async requireAccount(id: string): Promise<Account> {
    const account = await this.getAccount(id);
    if (!account) throw new NotFoundError('account', id);
    return account;
  }

  async updateAccount(
    id: string,
    change: { emailVerified?: boolean; webhookEnabled?: boolean; rateLimitPerMinute?: number },
  ): Promise<Account> {
    await this.requireAccount(id);
    const fields: Record<string, string> = {};
    if (change.emailVerified !== undefined) fields.email_verified = flag(change.emailVerified);
    if (change.webhookEnabled !== undefined) fields.webhook_enabled = flag(change.webhookEnabled);
    if (change.rateLimitPerMinute !== undefined) fields.rate_limit_per_minute = String(change.rateLimitPerMinute);
    await this.redis.hset(keys.account(id), fields);
    return this.requireAccount(id);
  }

  async createEmployee(input: { accountId: string; name: string; instructions?: string; model?: string }): Promise<Employee> {
    await this.requireAccount(input.accountId);
    const employee: Employee = {
      id: randomUUID(),
      accountId: input.accountId,
      name: input.name,
      instructions: input.instructions ?? `You are ${input.name}, an AI employee. Act on incoming events.`,
      model: input.model,
      createdAt: now(),
    };
    await this.redis
      .multi()
      .hset(keys.employee(employee.id), {
        id: employee.id,
        account_id: employee.accountId,
        name: employee.name,
        instructions: employee.instructions,
        ...(employee.model ? { model: employee.model } : {}),
        created_at: employee.createdAt,
      })
      .sadd(keys.accountEmployees(employee.accountId), employee.id)
      .exec();
    return employee;
  }

  async getEmployee(id: string): Promise<Employee | undefined> {
    const h = await this.redis.hgetall(keys.employee(id));
    if (!h.id) return undefined;
    return {
      id: h.id,
      accountId: h.account_id,
      name: h.name,
      instructions: h.instructions,
      model: h.model || undefined,
      createdAt: h.created_at,
    };
  }

  /** An account's employees, oldest first. */
  async listEmployees(accountId: string): Promise<Employee[]> {
    await this.requireAccount(accountId);
    const ids = await this.redis.smembers(keys.accountEmployees(accountId));
    const employees = await Promise.all(ids.map((id) => this.getEmployee(id)));
    return employees
      .filter((e): e is Employee => e !== undefined)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async deleteEmployee(id: string): Promise<void> {
    const employee = await this.getEmployee(id);
    if (!employee) throw new NotFoundError('employee', id);
    await this.redis.multi().del(keys.employee(id)).srem(keys.accountEmployees(employee.accountId), id).exec();
  }

  /** Creates a key and returns the raw secret: the only time it exists outside the caller's hands. */
  async createApiKey(accountId: string, name: string): Promise<{ key: string; info: ApiKeyInfo }> {
    await this.requireAccount(accountId);
    const key = generateApiKey();
    const info: ApiKeyInfo = { id: randomUUID(), accountId, name, prefix: key.slice(0, 7), createdAt: now() };
    await this.redis
      .multi()
      .set(keys.apiKey(hashApiKey(key)), JSON.stringify({ keyId: info.id, accountId }))
      .hset(keys.keyRecord(info.id), {
        id: info.id,
        account_id: accountId,
        name,
        prefix: info.prefix,
        hash: hashApiKey(key),
        created_at: info.createdAt,
      })
      .sadd(keys.accountKeys(accountId), info.id)
      .exec();
    return { key, info };
  }

  async listApiKeys(accountId: string): Promise<ApiKeyInfo[]> {
    await this.requireAccount(accountId);
    const ids = await this.redis.smembers(keys.accountKeys(accountId));
    const infos = await Promise.all(ids.map((id) => this.getApiKey(id)));
    return infos
      .filter((i): i is ApiKeyInfo => i !== undefined)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async getApiKey(keyId: string): Promise<ApiKeyInfo | undefined> {
    const h = await this.redis.hgetall(keys.keyRecord(keyId));
    if (!h.id) return undefined;
    return {
      id: h.id,
      accountId: h.account_id,
      name: h.name,
      prefix: h.prefix,
      createdAt: h.created_at,
      lastUsedAt: h.last_used_at || undefined,
      revokedAt: h.revoked_at || undefined,
    };
  }

  /** Revocation deletes the hash index, so the very next request with that key is a 401. */
  async revokeApiKey(accountId: string, keyId: string): Promise<ApiKeyInfo> {
    const h = await this.redis.hgetall(keys.keyRecord(keyId));
    if (!h.id || h.account_id !== accountId) throw new NotFoundError('key', keyId);
    await this.redis.multi().del(keys.apiKey(h.hash)).hset(keys.keyRecord(keyId), 'revoked_at', now()).exec();
    return (await this.getApiKey(keyId))!;
  }

  /**
   * Looks a raw key up by its hash and loads its account, in one round trip. The secret itself is
   * never compared, so timing reveals nothing. Undefined for an unknown or revoked key.
   */
  async resolveKey(rawKey: string): Promise<{ keyId: string; account: Account } | undefined> {
    const at = Date.now();
    const found = await resolveKeyScript(
      this.redis,
      keys.apiKey(hashApiKey(rawKey)),
      new Date(at).toISOString(),
      new Date(at - LAST_USED_GRANULARITY_MS).toISOString(),
    );
    if (!found) return undefined;
    const account = toAccount(fromPairs(found[1]));
    return account && { keyId: found[0], account };
  }

  /** `resolveKey` without the account: which key and account a raw key stands for. */
  async authenticate(rawKey: string): Promise<{ keyId: string; accountId: string } | undefined> {
    const found = await this.resolveKey(rawKey);
    return found && { keyId: found.keyId, accountId: found.account.id };
  }
}
