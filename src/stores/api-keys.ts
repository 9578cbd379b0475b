import { randomBytes, randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type pg from 'pg';
import { sha256Hex } from '../shared/hash';
import { isUuid, NotFoundError, toAccount, type Account, type AccountRow } from './accounts';
import { statement } from './postgres/statement';

export interface ApiKeyInfo {
  id: string;
  accountId: string;
  name: string;
  prefix: string;
  createdAt: string;
  lastUsedAt?: string;
  revokedAt?: string;
}

/** Raw keys carry 256 random bits, so one SHA-256 is enough: no salt or slow hash needed. */
export function hashApiKey(rawKey: string): string {
  return sha256Hex(rawKey);
}

export function generateApiKey(): string {
  return `sk-${randomBytes(32).toString('base64url')}`;
}

/** What generateApiKey makes: `sk-` and 32 bytes in base64url (43 characters). */
const API_KEY_SHAPE = /^sk-[A-Za-z0-9_-]{43}$/;

/** True for a string shaped like one of our keys; anything else cannot be one, and is refused unlooked-up. */
export function isWellFormedApiKey(candidate: string): boolean {
  return API_KEY_SHAPE.test(candidate);
}

/**
 * How long an API process trusts what it read about a key (and its account): a revoked key, a
 * disabled channel or a changed limit takes effect on every process within this long. Within it,
 * a busy key costs no database round trip.
 */
export const KEY_CACHE_TTL_MS = 1_000;

/**
 * A key's `last_used_at` is rewritten only once it is this old: at most one write a minute per busy
 * key instead of one per request. It answers "is this key still in use", which a minute does not change.
 */
export const LAST_USED_GRANULARITY_MS = 60_000;

interface KeyRow {
  id: string;
  account_id: string;
  name: string;
  prefix: string;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

function toInfo(row: KeyRow): ApiKeyInfo {
  return {
    id: row.id,
    accountId: row.account_id,
    name: row.name,
    prefix: row.prefix,
    createdAt: row.created_at.toISOString(),
    lastUsedAt: row.last_used_at?.toISOString(),
    revokedAt: row.revoked_at?.toISOString(),
  };
}

const insertKey = statement<{ id: string; accountId: string; name: string; prefix: string; hash: string }, KeyRow>(
  'api_keys_insert',
  `INSERT INTO api_keys (id, account_id, name, prefix, key_hash)
   SELECT :id, id, :name, :prefix, :hash FROM accounts WHERE id = :accountId
   RETURNING *`,
);

const selectKeysOfAccount = statement<{ accountId: string }, KeyRow>(
  'api_keys_of_account',
  `SELECT * FROM api_keys WHERE account_id = :accountId ORDER BY created_at, id`,
);

const selectKey = statement<{ id: string }, KeyRow>('api_keys_select', `SELECT * FROM api_keys WHERE id = :id`);

const revokeKey = statement<{ id: string; accountId: string }, KeyRow>(
  'api_keys_revoke',
  `UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
   WHERE id = :id AND account_id = :accountId
   RETURNING *`,
);

/** A live key's id with its account, by the key's hash: the whole of authentication, one index lookup. */
const resolveKey = statement<{ hash: string }, AccountRow & { key_id: string; last_used_at: Date | null }>(
  'api_keys_resolve',
  `SELECT k.id AS key_id, k.last_used_at, a.*
   FROM api_keys k JOIN accounts a ON a.id = k.account_id
   WHERE k.key_hash = :hash AND k.revoked_at IS NULL`,
);

const touchKey = statement<{ id: string; now: Date; before: Date }>(
  'api_keys_touch',
  `UPDATE api_keys SET last_used_at = :now
   WHERE id = :id AND (last_used_at IS NULL OR last_used_at < :before)`,
);

export interface ResolvedKey {
  keyId: string;
  account: Account;
}

/** API keys: created once (the raw key is shown then and never stored), listed, revoked, resolved. */
export class ApiKeyStore {
  /** Hash → the live key it resolved to, for KEY_CACHE_TTL_MS. Only keys that exist: see `unknown`. */
  private readonly cache: LRUCache<string, ResolvedKey>;
  /**
   * Hashes that resolved to nothing (unknown or revoked), apart and small: a flood of made-up keys
   * churns this one, never the cache of real keys, whose callers would then each cost a query.
   */
  private readonly unknown = new LRUCache<string, true>({ max: 1_000, ttl: KEY_CACHE_TTL_MS });
  /** Lookups under way, by hash. */
  private readonly lookups = new Map<string, Promise<ResolvedKey | undefined>>();
  /** Key id → when this process last wrote its last_used_at. */
  private readonly touched = new LRUCache<string, number>({ max: 10_000, ttl: LAST_USED_GRANULARITY_MS });

  constructor(
    private readonly db: pg.Pool,
    opts: { cachedKeys?: number } = {},
  ) {
    this.cache = new LRUCache<string, ResolvedKey>({ max: opts.cachedKeys ?? 10_000, ttl: KEY_CACHE_TTL_MS });
  }

  /** Creates a key and returns the raw secret: the only time it exists outside the caller's hands. */
  async createApiKey(accountId: string, name: string): Promise<{ key: string; info: ApiKeyInfo }> {
    const key = generateApiKey();
    const [row] = isUuid(accountId) ? await insertKey.run(this.db, { id: randomUUID(), accountId, name, prefix: key.slice(0, 7), hash: hashApiKey(key) }) : [];
    if (!row) throw new NotFoundError('account', accountId);
    return { key, info: toInfo(row) };
  }

  async listApiKeys(accountId: string): Promise<ApiKeyInfo[]> {
    if (!isUuid(accountId)) return [];
    return (await selectKeysOfAccount.run(this.db, { accountId })).map(toInfo);
  }

  async getApiKey(keyId: string): Promise<ApiKeyInfo | undefined> {
    if (!isUuid(keyId)) return undefined;
    const [row] = await selectKey.run(this.db, { id: keyId });
    return row && toInfo(row);
  }

  /** Every API process refuses the key within KEY_CACHE_TTL_MS. */
  async revokeApiKey(accountId: string, keyId: string): Promise<ApiKeyInfo> {
    const [row] = isUuid(keyId) && isUuid(accountId) ? await revokeKey.run(this.db, { id: keyId, accountId }) : [];
    if (!row) throw new NotFoundError('key', keyId);
    return toInfo(row);
  }

  /**
   * The key's id and account, or undefined for an unknown or revoked key (or a string not shaped
   * like a key, without a query). The secret itself is
   * never compared, only its hash looked up, so timing reveals nothing. Answers from the cache
   * within KEY_CACHE_TTL_MS of the last lookup, else with one indexed query.
   */
  async resolveKey(rawKey: string): Promise<ResolvedKey | undefined> {
    if (!isWellFormedApiKey(rawKey)) return undefined;
    const hash = hashApiKey(rawKey);
    const cached = this.cache.get(hash);
    if (cached) return cached;
    if (this.unknown.has(hash)) return undefined;
    // Concurrent requests with the same uncached key share one lookup: a burst on a cold cache costs
    // one query, not one per request queueing for the pool.
    let lookup = this.lookups.get(hash);
    if (!lookup) {
      lookup = this.lookUp(hash).finally(() => this.lookups.delete(hash));
      this.lookups.set(hash, lookup);
    }
    return lookup;
  }

  private async lookUp(hash: string): Promise<ResolvedKey | undefined> {
    const [row] = await resolveKey.run(this.db, { hash });
    if (!row) {
      this.unknown.set(hash, true);
      return undefined;
    }
    const found = { keyId: row.key_id, account: toAccount(row) };
    this.cache.set(hash, found);
    this.touch(row.key_id, row.last_used_at);
    return found;
  }

  /** `resolveKey` without the account: which key and account a raw key stands for. */
  async authenticate(rawKey: string): Promise<{ keyId: string; accountId: string } | undefined> {
    const found = await this.resolveKey(rawKey);
    return found && { keyId: found.keyId, accountId: found.account.id };
  }

  /** Off the request's path: a failed write only leaves last_used_at a little older. */
  private touch(keyId: string, lastUsed: Date | null): void {
    const now = Date.now();
    if (this.touched.has(keyId) || (lastUsed && now - lastUsed.getTime() < LAST_USED_GRANULARITY_MS)) return;
    this.touched.set(keyId, now);
    touchKey.run(this.db, { id: keyId, now: new Date(now), before: new Date(now - LAST_USED_GRANULARITY_MS) }).catch(() => undefined);
  }
}
