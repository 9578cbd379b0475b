import type { Redis } from 'ioredis';
import { sha256Hex } from '../../shared/hash';

/** The original event a repeated Idempotency-Key stands for, with what it carried (to tell a repeat from a reuse). */
export interface OriginalEvent {
  messageId: string;
  employeeId: string;
  event?: string;
  payloadSha256: string;
}

/**
 * Per account, by the key's hash (the key itself never reaches Redis). The account id is a hash tag,
 * so one account's keys share a cluster slot.
 */
function windowKey(accountId: string, idempotencyKey: string): string {
  return `sv:{${accountId}}:idem:${sha256Hex(idempotencyKey)}`;
}

/**
 * A cache of Idempotency-Key windows, so repeats are answered without a database round trip. Only a
 * cache: the window's row in PostgreSQL is the guard, and a flushed Redis changes no answer, only
 * its cost. Every failure here is swallowed by the caller's choice (see `lookup`).
 */
export class IdempotencyCache {
  constructor(private readonly redis: Redis) {}

  /** The original event while its window lasts; undefined when unknown or expired. Throws when Redis fails. */
  async lookup(accountId: string, idempotencyKey: string): Promise<OriginalEvent | undefined> {
    const raw = await this.redis.get(windowKey(accountId, idempotencyKey));
    return raw ? (JSON.parse(raw) as OriginalEvent) : undefined;
  }

  /**
   * Remembers the window until `until` (ms since epoch), never longer: an entry that outlived the
   * window's row would answer "duplicate" past the window, and a re-cache must not extend it (NX).
   */
  async store(accountId: string, idempotencyKey: string, original: OriginalEvent, until: number): Promise<void> {
    if (!(until > Date.now())) return;
    await this.redis.set(windowKey(accountId, idempotencyKey), JSON.stringify(original), 'PXAT', until, 'NX');
  }

  /** For tests and drills: forget one key's window. */
  async forget(accountId: string, idempotencyKey: string): Promise<void> {
    await this.redis.del(windowKey(accountId, idempotencyKey));
  }

  /** When the cached window ends (ms since epoch), or undefined. For tests. */
  async expiresAt(accountId: string, idempotencyKey: string): Promise<number | undefined> {
    const at = await this.redis.pexpiretime(windowKey(accountId, idempotencyKey));
    return at > 0 ? at : undefined;
  }
}
