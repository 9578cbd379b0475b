import type { LedgerAudit } from '../stores/ledger';

/** What `credits verify` prints. */
export interface VerifyResult {
  account_id: string;
  ok: boolean;
  balance: { counter: number; ledger: number };
  reserved: { counter: number; ledger: number };
  postings: number;
  open_reservations: number;
  problems: string[];
}

/**
 * The ledger's invariants, from the database's audit of one account: the balance is the sum of the
 * postings' credits and the reserved amount the sum of their reserved deltas; no event is charged,
 * reserved or released twice; nothing is released that was not reserved; the open reservations are
 * exactly those reserved and not released; the hourly and daily rollups hold every charge.
 */
export function verifyAudit(accountId: string, audit: LedgerAudit): VerifyResult {
  const problems: string[] = [];
  if (audit.ledgerBalance !== audit.balance) problems.push(`balance is ${audit.balance} but the postings sum to ${audit.ledgerBalance}`);
  if (audit.ledgerReserved !== audit.reserved) problems.push(`reserved is ${audit.reserved} but the postings sum to ${audit.ledgerReserved}`);
  if (audit.reserved < 0) problems.push(`reserved is negative (${audit.reserved})`);
  if (audit.rollupCredits !== audit.chargedCredits) {
    problems.push(`the usage rollup holds ${audit.rollupCredits} charged credits but the charge postings sum to ${audit.chargedCredits}`);
  }
  if (audit.dailyRollupCredits !== audit.chargedCredits) {
    problems.push(`the daily usage rollup holds ${audit.dailyRollupCredits} charged credits but the charge postings sum to ${audit.chargedCredits}`);
  }
  for (const d of audit.duplicated) problems.push(`message ${d.messageId} has ${d.count} ${d.kind} postings`);
  for (const m of audit.reservationMismatches) problems.push(`message ${m.messageId}: ${m.problem}`);
  return {
    account_id: accountId,
    ok: problems.length === 0,
    balance: { counter: audit.balance, ledger: audit.ledgerBalance },
    reserved: { counter: audit.reserved, ledger: audit.ledgerReserved },
    postings: audit.postings,
    open_reservations: audit.openReservations,
    problems,
  };
}
