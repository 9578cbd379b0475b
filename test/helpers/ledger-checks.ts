import type pg from 'pg';
import type { Posting } from '../../src/domain/billing';
import { verifyAudit, type VerifyResult } from '../../src/billing/verify';
import type { Ledger, LedgerAudit } from '../../src/stores/ledger';
import { inTransaction } from '../../src/stores/postgres/pool';

/**
 * The message ids the ledger debited, one entry per debit posting: a message charged twice shows
 * up twice. Works on any posting kind that takes credits for an event.
 */
export async function debitedMessageIds(ledger: Ledger, accountId: string): Promise<string[]> {
  const postings = await ledger.postings(accountId);
  return postings.filter((p) => p.messageId && p.credits < 0).map((p) => p.messageId!);
}

/** Ids that appear more than once. */
export function repeated(ids: string[]): string[] {
  const seen = new Set<string>();
  return ids.filter((id) => (seen.has(id) ? true : (seen.add(id), false)));
}

/** Prints a drill's counts on one line, for the run log. */
export function reportDrill(name: string, counts: Record<string, number>): void {
  const fields = Object.entries(counts)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  process.stdout.write(`[drill] ${name}: ${fields}\n`);
}

/** `credits verify` in process: the database's audit of the account, judged by verifyAudit. */
export async function verifyLedger(ledger: Ledger, accountId: string): Promise<{ result: VerifyResult; audit: LedgerAudit }> {
  const audit = await ledger.audit(accountId);
  if (!audit) throw new Error(`account ${accountId} has no credit balance`);
  return { result: verifyAudit(accountId, audit), audit };
}

/**
 * Loses an event's charge the way a restore from a backup taken before it was posted would: the
 * posting gone, the balance without it, the hourly rollup without it. The ledger's triggers refuse
 * that DELETE from anyone, so it runs with triggers off for this one transaction
 * (session_replication_role = replica, which needs the superuser the tests connect as), rolled back
 * if any step fails. The ledger still verifies afterwards: only a comparison with Temporal can tell.
 * Returns the lost posting.
 */
export async function loseCharge(db: pg.Pool, ledger: Ledger, accountId: string, messageId: string): Promise<Posting> {
  const posting = await ledger.chargeFor(accountId, messageId);
  if (!posting) throw new Error(`message ${messageId} has no charge to lose`);
  return inTransaction(db, async (client) => {
    await client.query('SET LOCAL session_replication_role = replica');
    const deleted = await client.query(`DELETE FROM postings WHERE account_id = $1 AND message_id = $2 AND kind = 'charge'`, [accountId, messageId]);
    if (deleted.rowCount !== 1) throw new Error(`deleted ${deleted.rowCount} charge postings of ${messageId}`);
    await client.query('UPDATE credit_balances SET balance = balance - $2 WHERE account_id = $1', [accountId, posting.credits]);
    const key = [accountId, posting.at, posting.employeeId, posting.event ?? ''];
    const amounts = [
      -posting.credits,
      posting.tokenCredits ?? 0,
      posting.runtimeCredits ?? 0,
      posting.tokensIn ?? 0,
      posting.tokensOut ?? 0,
      posting.runtimeMs ?? 0,
      posting.modelTurns ?? 0,
      posting.toolCalls ?? 0,
    ];
    // Both rollups lose the charge the same way: the hour's (or day's) row, which goes when this was its only charge.
    for (const [table, column, unit] of [
      ['usage_hourly', 'hour', 'hour'],
      ['usage_daily', 'day', 'day'],
    ] as const) {
      const rolled = await client.query(
        `UPDATE ${table} SET events = events - 1, credits = credits - $5, token_credits = token_credits - $6, runtime_credits = runtime_credits - $7,
           tokens_in = tokens_in - $8, tokens_out = tokens_out - $9, runtime_ms = runtime_ms - $10, model_turns = model_turns - $11, tool_calls = tool_calls - $12
         WHERE account_id = $1 AND ${column} = date_trunc('${unit}', $2::timestamptz, 'UTC') AND employee_id = $3 AND event = $4`,
        [...key, ...amounts],
      );
      if (rolled.rowCount !== 1) throw new Error(`${table} has no ${unit} for the charge of ${messageId}`);
      await client.query(
        `DELETE FROM ${table} WHERE account_id = $1 AND ${column} = date_trunc('${unit}', $2::timestamptz, 'UTC') AND employee_id = $3 AND event = $4 AND events = 0`,
        key,
      );
    }
    return posting;
  });
}
