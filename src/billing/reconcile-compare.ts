import type { Posting } from '../domain/billing';
import type { OpenReservation } from '../stores/ledger';
import type { RecordedRun } from '../temporal/event-runs';

/** A charge a run claims that reconcile leaves alone, and why. */
export interface Finding {
  message_id: string;
  workflow_id: string;
  why: 'not a debit' | 'no reservation in this account';
}

export interface StaleReservation {
  message_id: string;
  workflow_id: string | null;
  since: string;
  why: 'never started' | 'workflow closed';
  released: boolean;
}

export interface ChargeComparison {
  matched: number;
  /** Running and not settled yet. */
  pending: number;
  /** Settled without a charge (failed before any model turn), or closed without settling. */
  uncharged: number;
  /** Runs whose charge the ledger does not hold (yet). */
  missing: RecordedRun[];
  mismatched: Array<{ message_id: string; workflow_id: string; history_credits: number; ledger_credits: number }>;
  refused: Finding[];
}

/**
 * The runs' recorded charges against the ledger's charges for the same messages (keyed by message
 * id). Pure: no I/O, so every case is a unit test. A claimed charge that is not a debit (a memo
 * written by hand claiming a credit) is never a candidate for repair.
 */
export function compareCharges(runs: RecordedRun[], ledger: Map<string, Posting>): ChargeComparison {
  const result: ChargeComparison = { matched: 0, pending: 0, uncharged: 0, missing: [], mismatched: [], refused: [] };
  for (const run of runs) {
    if (!run.charge) {
      if (run.running && !run.settled) result.pending += 1;
      else result.uncharged += 1;
      continue;
    }
    if (run.charge.kind !== 'charge' || !(run.charge.credits < 0)) {
      result.refused.push({ message_id: run.messageId, workflow_id: run.workflowId, why: 'not a debit' });
      continue;
    }
    const posted = ledger.get(run.messageId);
    if (!posted) result.missing.push(run);
    else if (posted.credits === run.charge.credits) result.matched += 1;
    else
      result.mismatched.push({ message_id: run.messageId, workflow_id: run.workflowId, history_credits: -run.charge.credits, ledger_credits: -posted.credits });
  }
  return result;
}

/** Open reservations old enough that their event should have settled them by now. */
export function staleCandidates(open: OpenReservation[], now: Date, staleAfterMs: number): OpenReservation[] {
  const cutoff = now.getTime() - staleAfterMs;
  return open.filter((reservation) => reservation.since.getTime() <= cutoff);
}
