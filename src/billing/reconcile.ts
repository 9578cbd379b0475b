import type { Posting } from '../domain/billing';
import { compare } from '../shared/text';
import type { Ledger, OpenReservation } from '../stores/ledger';
import { forEachLimited, type EventRuns, type RecordedRun, type RunState } from '../temporal/event-runs';
import { compareCharges, staleCandidates, type Finding, type StaleReservation } from './reconcile-compare';

export interface ReconcileOptions {
  accountId: string;
  from: Date;
  to: Date;
  /** Post what the ledger is missing, and release stale reservations; otherwise only report. */
  repair: boolean;
  /** A reservation open this long may be released when its workflow is gone or closed. */
  staleAfterMs: number;
  now?: Date;
}

export interface MissingCharge {
  message_id: string;
  workflow_id: string;
  run_id: string;
  credits: number;
  /** True once --repair posted it. (A charge that a repair finds posted meanwhile is compared, not missing.) */
  repaired: boolean;
}

/**
 * What `billing reconcile` prints (JSON, snake_case like the HTTP API's bodies). `ok` is false while
 * anything remains unexplained or unrepaired.
 */
export interface ReconcileReport {
  account_id: string;
  from: string;
  to: string;
  repair: boolean;
  workflows: number;
  matched: number;
  pending: number;
  uncharged: number;
  missing: MissingCharge[];
  mismatched: Array<{ message_id: string; workflow_id: string; history_credits: number; ledger_credits: number }>;
  /** Charges a run claims that reconcile will not post: see reconcile-compare.ts `Finding`. */
  refused: Finding[];
  stale_reservations: StaleReservation[];
  ok: boolean;
}

const CONCURRENCY = 8;

/**
 * Compares the account's ledger with the charges recorded in Temporal: every event run started in
 * [from, to) with the charge its settlement wrote into the memo (event-runs.ts), against the
 * ledger's charges for those messages (compared in reconcile-compare.ts, without I/O). With
 * `repair`, a missing charge is posted again — the same posting, through the same idempotent
 * statement, so a second repair posts nothing — but only for a message the account reserved; and
 * reservations left open by events that never started (or whose workflow was ended from outside)
 * are released. Events keep settling while this runs: a charge posted meanwhile counts as matched.
 */
export async function reconcile(runs: EventRuns, ledger: Ledger, options: ReconcileOptions): Promise<ReconcileReport> {
  const now = options.now ?? new Date();
  const recorded = await runs.recorded(options.accountId, options.from, options.to);
  const charged = await ledger.chargesFor(
    options.accountId,
    recorded.flatMap((r) => (r.charge ? [r.messageId] : [])),
  );
  const compared = compareCharges(recorded, charged);
  const report: ReconcileReport = {
    account_id: options.accountId,
    from: options.from.toISOString(),
    to: options.to.toISOString(),
    repair: options.repair,
    workflows: recorded.length,
    matched: compared.matched,
    pending: compared.pending,
    uncharged: compared.uncharged,
    missing: [],
    mismatched: compared.mismatched,
    refused: compared.refused,
    stale_reservations: [],
    ok: true,
  };

  await forEachLimited(compared.missing, CONCURRENCY, async (run) => {
    const found = await settleMissing(ledger, options, run, now);
    if (found.refused) report.refused.push(found.refused);
    else if (found.posting) {
      if (found.posting.credits === run.charge!.credits) report.matched += 1;
      else
        report.mismatched.push({
          message_id: run.messageId,
          workflow_id: run.workflowId,
          history_credits: -run.charge!.credits,
          ledger_credits: -found.posting.credits,
        });
    } else
      report.missing.push({
        message_id: run.messageId,
        workflow_id: run.workflowId,
        run_id: run.runId,
        credits: -run.charge!.credits,
        repaired: found.repaired,
      });
  });

  report.stale_reservations = await releaseStale(runs, ledger, options, now);
  report.missing.sort((a, b) => compare(a.message_id, b.message_id));
  report.refused.sort((a, b) => compare(a.message_id, b.message_id));
  report.ok =
    report.mismatched.length === 0 &&
    report.refused.length === 0 &&
    report.missing.every((m) => m.repaired) &&
    report.stale_reservations.every((s) => s.released);
  return report;
}

/**
 * A charge the batch lookup did not find: looked up once more (it may have been posted meanwhile),
 * then, with `repair`, posted — only when the account holds a reserve posting for that message, so
 * a run that was not accepted through our ingest (one started on Temporal by hand) moves no money.
 */
async function settleMissing(
  ledger: Ledger,
  options: ReconcileOptions,
  run: RecordedRun,
  now: Date,
): Promise<{ posting?: Posting; repaired: boolean; refused?: Finding }> {
  const posting = await ledger.chargeFor(options.accountId, run.messageId);
  if (posting || !options.repair) return { posting, repaired: false };
  if (!(await ledger.reservationFor(options.accountId, run.messageId))) {
    return { repaired: false, refused: { message_id: run.messageId, workflow_id: run.workflowId, why: 'no reservation in this account' } };
  }
  const settled = await ledger.settle(options.accountId, run.messageId, { ...run.charge!, repairedAt: now.toISOString() }, 'repaired');
  return settled.posted ? { repaired: true } : { posting: settled.posting, repaired: false };
}

/**
 * Reservations open longer than `staleAfterMs` whose event will never settle them: no run for the
 * message (the API died between reserving and starting, or the start failed and the release did
 * not get through), or a run that closed without settling (terminated from outside).
 */
async function releaseStale(runs: EventRuns, ledger: Ledger, options: ReconcileOptions, now: Date): Promise<StaleReservation[]> {
  const open = await ledger.openReservations(options.accountId, options.from, options.to);
  const candidates = staleCandidates(open, now, options.staleAfterMs);
  const stale: StaleReservation[] = [];
  await forEachLimited(candidates, CONCURRENCY, async (reservation: OpenReservation) => {
    const state: RunState = await runs.state(reservation.workflowId, reservation.messageId);
    if (state === 'running') return;
    const why = state === 'absent' ? 'never started' : 'workflow closed';
    // An event that never started was never accepted: its message record goes with the reservation.
    const release = why === 'never started' ? ledger.releaseUnaccepted.bind(ledger) : ledger.release.bind(ledger);
    const released = options.repair ? await release(options.accountId, reservation.messageId, why) : false;
    // Released meanwhile (a workflow releases before it closes, or another repair did): not stale.
    if (!released && !(await ledger.isReserved(options.accountId, reservation.messageId))) return;
    stale.push({ message_id: reservation.messageId, workflow_id: reservation.workflowId, since: reservation.since.toISOString(), why, released });
  });
  return stale.sort((a, b) => compare(a.since, b.since) || compare(a.message_id, b.message_id));
}
