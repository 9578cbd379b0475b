import type { LedgerSnapshot } from '../stores/ledger';

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
 * The ledger's invariants, checked on one atomic snapshot: the balance is the sum of the postings'
 * credits and the reserved amount the sum of their reserved deltas; no event is charged, reserved
 * or released twice; nothing is released that was not reserved; the open reservations are exactly
 * those reserved and not released.
 */
export function verifySnapshot(accountId: string, snapshot: LedgerSnapshot): VerifyResult {
  const problems: string[] = [];
  let credits = 0;
  let reserved = 0;
  const seen = { charge: new Map<string, number>(), reserve: new Map<string, number>(), release: new Map<string, number>() };
  for (const p of snapshot.postings) {
    credits += p.credits;
    reserved += p.reserved ?? 0;
    if (p.kind !== 'topup' && p.messageId) seen[p.kind].set(p.messageId, (seen[p.kind].get(p.messageId) ?? 0) + 1);
  }
  if (credits !== snapshot.balance) problems.push(`balance is ${snapshot.balance} but the postings sum to ${credits}`);
  if (reserved !== snapshot.reserved) problems.push(`reserved is ${snapshot.reserved} but the postings sum to ${reserved}`);
  if (snapshot.reserved < 0) problems.push(`reserved is negative (${snapshot.reserved})`);
  for (const kind of ['charge', 'reserve', 'release'] as const) {
    for (const [messageId, n] of seen[kind]) if (n > 1) problems.push(`message ${messageId} has ${n} ${kind} postings`);
  }
  for (const messageId of seen.release.keys()) {
    if (!seen.reserve.has(messageId)) problems.push(`message ${messageId} was released without a reservation`);
  }
  const open = new Set(snapshot.open.map((o) => o.messageId));
  for (const messageId of seen.reserve.keys()) {
    const shouldBeOpen = !seen.release.has(messageId);
    if (shouldBeOpen !== open.has(messageId)) {
      problems.push(`message ${messageId} is ${shouldBeOpen ? 'reserved but missing from' : 'released but still in'} the open reservations`);
    }
  }
  for (const messageId of open) if (!seen.reserve.has(messageId)) problems.push(`open reservation ${messageId} has no reserve posting`);
  return {
    account_id: accountId,
    ok: problems.length === 0,
    balance: { counter: snapshot.balance, ledger: credits },
    reserved: { counter: snapshot.reserved, ledger: reserved },
    postings: snapshot.postings.length,
    open_reservations: snapshot.open.length,
    problems,
  };
}
