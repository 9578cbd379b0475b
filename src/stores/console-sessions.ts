import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { sha256Hex } from '../shared/hash';
import { isUuid, toAccount, type Account, type AccountRow } from './accounts';
import { statement } from './postgres/statement';

/** A 256-bit secret, URL-safe: sign-in tokens, session ids and CSRF tokens. */
export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

const insertLink = statement<{ hash: string; email: string; expiresAt: Date }>(
  'sign_in_links_insert',
  `INSERT INTO sign_in_links (token_hash, email, expires_at) VALUES (:hash, :email, :expiresAt)`,
);

/** Links an hour past their end: used or not, they can only be refused, so they go. */
const deleteStaleLinks = statement('sign_in_links_delete_stale', `DELETE FROM sign_in_links WHERE expires_at < now() - interval '1 hour'`);

/** Single use by construction: only the first UPDATE finds used_at NULL. */
const consumeLink = statement<{ hash: string }, { email: string }>(
  'sign_in_links_consume',
  `UPDATE sign_in_links SET used_at = now()
   WHERE token_hash = :hash AND used_at IS NULL AND expires_at > now()
   RETURNING email`,
);

const peekLink = statement<{ hash: string }, { email: string }>(
  'sign_in_links_peek',
  `SELECT email FROM sign_in_links WHERE token_hash = :hash AND used_at IS NULL AND expires_at > now()`,
);

const accountByEmail = statement<{ email: string }, AccountRow>('accounts_by_email', `SELECT * FROM accounts WHERE lower(email) = lower(:email)`);

const markVerified = statement<{ id: string }, AccountRow>('accounts_mark_verified', `UPDATE accounts SET email_verified = true WHERE id = :id RETURNING *`);

const insertSession = statement<{ hash: string; accountId: string; csrf: string; expiresAt: Date }>(
  'console_sessions_insert',
  `INSERT INTO console_sessions (id_hash, account_id, csrf_token, expires_at) VALUES (:hash, :accountId, :csrf, :expiresAt)`,
);

/** The session and its account, touched in the same statement; idle or past its absolute end, nothing. */
const touchSession = statement<{ hash: string; idleMs: number }, AccountRow & { csrf_token: string }>(
  'console_sessions_touch',
  `WITH s AS (
     UPDATE console_sessions SET last_seen_at = now()
     WHERE id_hash = :hash AND expires_at > now() AND last_seen_at > now() - make_interval(secs => :idleMs / 1000.0)
     RETURNING account_id, csrf_token
   )
   SELECT a.*, s.csrf_token FROM s JOIN accounts a ON a.id = s.account_id`,
);

/** The account's sessions that can no longer be resumed, removed when it opens a new one. */
const deleteEndedSessions = statement<{ accountId: string; idleMs: number }>(
  'console_sessions_delete_ended',
  `DELETE FROM console_sessions
   WHERE account_id = :accountId AND (expires_at <= now() OR last_seen_at <= now() - make_interval(secs => :idleMs / 1000.0))`,
);

const deleteSession = statement<{ hash: string }>('console_sessions_delete', `DELETE FROM console_sessions WHERE id_hash = :hash`);

const deleteAccountSessions = statement<{ accountId: string }>('console_sessions_delete_account', `DELETE FROM console_sessions WHERE account_id = :accountId`);

export interface ConsoleSession {
  account: Account;
  csrfToken: string;
}

/** Sign-in links and console sessions; only hashes of their secrets are stored. */
export class ConsoleSessionStore {
  constructor(private readonly db: pg.Pool) {}

  /** Records a link for `email`; returns the raw token, which only the mail carries. */
  async createLink(email: string, ttlMs: number): Promise<string> {
    const token = newSecret();
    await deleteStaleLinks.run(this.db, {});
    await insertLink.run(this.db, { hash: sha256Hex(token), email, expiresAt: new Date(Date.now() + ttlMs) });
    return token;
  }

  /** The link's email, once; undefined for an unknown, used or expired token. */
  async consumeLink(token: string): Promise<string | undefined> {
    const [row] = await consumeLink.run(this.db, { hash: sha256Hex(token) });
    return row?.email;
  }

  /** The link's email while it can still be used, without using it (a mail scanner's GET must not spend it). */
  async peekLink(token: string): Promise<string | undefined> {
    const [row] = await peekLink.run(this.db, { hash: sha256Hex(token) });
    return row?.email;
  }

  async accountByEmail(email: string): Promise<Account | undefined> {
    const [row] = await accountByEmail.run(this.db, { email });
    return row && toAccount(row);
  }

  async markVerified(accountId: string): Promise<Account> {
    const [row] = await markVerified.run(this.db, { id: accountId });
    return toAccount(row);
  }

  /** Opens a session; returns its raw id (the cookie), which is stored only hashed. Ended ones of the account go. */
  async createSession(accountId: string, maxMs: number, idleMs = maxMs): Promise<string> {
    const id = newSecret();
    await deleteEndedSessions.run(this.db, { accountId, idleMs });
    await insertSession.run(this.db, { hash: sha256Hex(id), accountId, csrf: newSecret(), expiresAt: new Date(Date.now() + maxMs) });
    return id;
  }

  async resolve(sessionId: string, idleMs: number): Promise<ConsoleSession | undefined> {
    const [row] = await touchSession.run(this.db, { hash: sha256Hex(sessionId), idleMs });
    return row && { account: toAccount(row), csrfToken: row.csrf_token };
  }

  async end(sessionId: string): Promise<void> {
    await deleteSession.run(this.db, { hash: sha256Hex(sessionId) });
  }

  async endAll(accountId: string): Promise<void> {
    if (isUuid(accountId)) await deleteAccountSessions.run(this.db, { accountId });
  }
}
