import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { statement } from './postgres/statement';

export interface Account {
  id: string;
  email: string;
  emailVerified: boolean;
  webhookEnabled: boolean;
  /** Per-account override of the default rate limit, requests per minute. */
  rateLimitPerMinute?: number;
  createdAt: string;
}

/** A lookup by id found nothing: the CLI turns it into `<WHAT>_NOT_FOUND`. */
export class NotFoundError extends Error {
  constructor(
    readonly what: string,
    readonly id: string,
  ) {
    super(`${what} ${id} not found`);
  }
}

export interface AccountRow {
  id: string;
  email: string;
  email_verified: boolean;
  webhook_enabled: boolean;
  rate_limit_per_minute: number | null;
  created_at: Date;
}

export function toAccount(row: AccountRow): Account {
  return {
    id: row.id,
    email: row.email,
    emailVerified: row.email_verified,
    webhookEnabled: row.webhook_enabled,
    rateLimitPerMinute: row.rate_limit_per_minute ?? undefined,
    createdAt: row.created_at.toISOString(),
  };
}

/** The account and its (empty) credit balance, together: every account has exactly one balance row. */
const insertAccount = statement<{ id: string; email: string; emailVerified: boolean; webhookEnabled: boolean }, AccountRow>(
  'accounts_insert',
  `WITH account AS (
     INSERT INTO accounts (id, email, email_verified, webhook_enabled)
     VALUES (:id, :email, :emailVerified, :webhookEnabled)
     ON CONFLICT DO NOTHING
     RETURNING *
   ), balance AS (
     INSERT INTO credit_balances (account_id) SELECT id FROM account
   )
   SELECT * FROM account`,
);

const selectAccount = statement<{ id: string }, AccountRow>('accounts_select', `SELECT * FROM accounts WHERE id = :id`);

const selectAllAccountIds = statement<Record<string, never>, { id: string }>('accounts_all_ids', `SELECT id FROM accounts ORDER BY created_at, id`);

/** Only the fields given change: NULL keeps the stored value. */
const updateAccount = statement<{ id: string; emailVerified?: boolean; webhookEnabled?: boolean; rateLimitPerMinute?: number }, AccountRow>(
  'accounts_update',
  `UPDATE accounts SET
     email_verified = coalesce(:emailVerified, email_verified),
     webhook_enabled = coalesce(:webhookEnabled, webhook_enabled),
     rate_limit_per_minute = coalesce(:rateLimitPerMinute, rate_limit_per_minute)
   WHERE id = :id
   RETURNING *`,
);

/** Accounts: who may send webhooks, and under which limit. */
export class AccountStore {
  constructor(private readonly db: pg.Pool) {}

  async createAccount(input: { email: string; emailVerified?: boolean; webhookEnabled?: boolean }): Promise<Account> {
    const [row] = await insertAccount.run(this.db, {
      id: randomUUID(),
      email: input.email,
      emailVerified: input.emailVerified ?? false,
      webhookEnabled: input.webhookEnabled ?? false,
    });
    if (!row) throw new Error(`an account with email ${input.email} already exists`);
    return toAccount(row);
  }

  async getAccount(id: string): Promise<Account | undefined> {
    if (!isUuid(id)) return undefined;
    const [row] = await selectAccount.run(this.db, { id });
    return row && toAccount(row);
  }

  async requireAccount(id: string): Promise<Account> {
    const account = await this.getAccount(id);
    if (!account) throw new NotFoundError('account', id);
    return account;
  }

  async updateAccount(id: string, change: { emailVerified?: boolean; webhookEnabled?: boolean; rateLimitPerMinute?: number }): Promise<Account> {
    const [row] = isUuid(id) ? await updateAccount.run(this.db, { id, ...change }) : [];
    if (!row) throw new NotFoundError('account', id);
    return toAccount(row);
  }

  /** Every account id, oldest first: what the scheduled reconcile walks. */
  async allIds(): Promise<string[]> {
    return (await selectAllAccountIds.run(this.db, {})).map((r) => r.id);
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids are uuid columns: anything else cannot match, and would be a type error in SQL. */
export function isUuid(id: string): boolean {
  return UUID.test(id);
}
