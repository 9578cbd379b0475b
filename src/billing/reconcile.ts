import { randomUUID } from 'node:crypto';
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import { defaultPayloadConverter, WorkflowNotFoundError } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { processWebhookEvent } from '../../workflows';
import type { ChargeResult, EmployeeOutcome, EventMemo, WebhookEventInput } from '../../workflows/contract';
import { compare } from '../shared/text';
import type { Ledger } from '../stores/ledger';
import type { Posting } from './types';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
type Payloads = temporal.api.common.v1.IPayloads | null | undefined;

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

export interface StaleReservation {
  message_id: string;
  workflow_id: string | null;
  since: string;
  why: 'never started' | 'workflow closed';
  released: boolean;
}

/** What `billing reconcile` prints. `ok` is false while anything remains unexplained or unrepaired. */
export interface ReconcileResult {
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
  stale_reservations: StaleReservation[];
  ok: boolean;
}

/** The local activities that posted an event's charge in histories recorded before the charge went into the memo. */
const CHARGE_ACTIVITIES = new Set(['settleCredits', 'chargeCredits']);
const HISTORY_CONCURRENCY = 8;

/** One event workflow and the charge Temporal holds for it. */
interface Recorded {
  execution: WorkflowExecutionInfo;
  messageId: string;
  charge?: Posting;
  /** Settled without a charge (it failed and consumed nothing). */
  settled: boolean;
}

/**
 * Compares the account's ledger with the charges recorded in Temporal: every event workflow started
 * in [from, to) is found through visibility (search attribute AccountId), with the charge its
 * settlement wrote into the memo (`charge`), and that charge is looked up in the ledger by message
 * id, all at once. With `repair`, a missing charge is posted again — the same posting, through the
 * same idempotent statement, so a second repair posts nothing — and reservations left open by
 * events that never started (or whose workflow was ended from outside) are released. Events keep
 * settling while this runs: a charge posted meanwhile counts as matched, not missing.
 */
export async function reconcile(client: Client, ledger: Ledger, options: ReconcileOptions): Promise<ReconcileResult> {
  const now = options.now ?? new Date();
  const recorded = await recordedCharges(client, await listExecutions(client, options));
  const charged = await ledger.chargesFor(
    options.accountId,
    recorded.filter((r) => r.charge).map((r) => r.messageId),
  );
  const result: ReconcileResult = {
    account_id: options.accountId,
    from: options.from.toISOString(),
    to: options.to.toISOString(),
    repair: options.repair,
    workflows: recorded.length,
    matched: 0,
    pending: 0,
    uncharged: 0,
    missing: [],
    mismatched: [],
    stale_reservations: [],
    ok: true,
  };

  await forEachLimited(recorded, HISTORY_CONCURRENCY, async ({ execution, messageId, charge, settled }) => {
    if (!charge) {
      if (execution.status.name === 'RUNNING' && !settled) result.pending += 1;
      else result.uncharged += 1;
      return;
    }
    const { posting: inLedger, repaired } = await ledgerCharge(ledger, charged, options, messageId, charge, now);
    if (!inLedger) {
      result.missing.push({ message_id: messageId, workflow_id: execution.workflowId, run_id: execution.runId, credits: -charge.credits, repaired });
      return;
    }
    if (inLedger.credits === charge.credits) result.matched += 1;
    else
      result.mismatched.push({ message_id: messageId, workflow_id: execution.workflowId, history_credits: -charge.credits, ledger_credits: -inLedger.credits });
  });

  result.stale_reservations = await staleReservations(client, ledger, options, now);
  result.missing.sort((a, b) => compare(a.message_id, b.message_id));
  result.ok = result.mismatched.length === 0 && result.missing.every((m) => m.repaired) && result.stale_reservations.every((s) => s.released);
  return result;
}

/**
 * Each execution's charge: from its memo (events since `charge-in-memo`: no history read), else
 * from its history (events recorded before; only those still within Temporal's retention).
 */
async function recordedCharges(client: Client, executions: WorkflowExecutionInfo[]): Promise<Recorded[]> {
  const recorded: Recorded[] = [];
  await forEachLimited(executions, HISTORY_CONCURRENCY, async (execution) => {
    const listed = (execution.memo ?? {}) as Partial<EventMemo>;
    if (listed.messageId && listed.settled !== undefined) {
      recorded.push({ execution, messageId: listed.messageId, charge: listed.charge ?? undefined, settled: listed.settled });
      return;
    }
    // Visibility may lag the workflow by a moment: the workflow's own description is current.
    const description = await client.workflow.getHandle(execution.workflowId, execution.runId).describe();
    const memo = (description.memo ?? {}) as Partial<EventMemo>;
    if (memo.messageId && memo.settled !== undefined) {
      recorded.push({ execution, messageId: memo.messageId, charge: memo.charge ?? undefined, settled: memo.settled });
      return;
    }
    // Running and not settled yet (its memo says so once it is): pending, nothing to read.
    if (memo.messageId && description.status.name === 'RUNNING') {
      recorded.push({ execution, messageId: memo.messageId, settled: false });
      return;
    }
    const found = chargeInHistory(await decodedHistory(client, execution));
    recorded.push({ execution, messageId: found.input.messageId, charge: found.charge, settled: false });
  });
  return recorded;
}

/**
 * The ledger's charge for a message whose workflow recorded `charge`: the batch lookup first, then
 * with `repair` a charge in neither is posted; when that posts nothing, the workflow or another
 * repair got there first, and their posting is returned to be compared. `repaired` is true only
 * when this call posted it (it then returns no posting).
 */
async function ledgerCharge(
  ledger: Ledger,
  charged: Map<string, Posting>,
  options: ReconcileOptions,
  messageId: string,
  charge: Posting,
  now: Date,
): Promise<{ posting?: Posting; repaired: boolean }> {
  const posting = charged.get(messageId) ?? (await ledger.chargeFor(options.accountId, messageId));
  if (posting || !options.repair) return { posting, repaired: false };
  const settled = await ledger.settle(options.accountId, messageId, { ...charge, repairedAt: now.toISOString() }, 'repaired');
  return settled.posted ? { repaired: true } : { posting: settled.posting, repaired: false };
}

async function listExecutions(client: Client, options: ReconcileOptions): Promise<WorkflowExecutionInfo[]> {
  if (!/^[A-Za-z0-9_-]+$/.test(options.accountId)) throw new Error(`Account id ${JSON.stringify(options.accountId)} is not a plain id.`);
  const query = [
    `WorkflowType = '${processWebhookEvent.name}'`,
    `AccountId = '${options.accountId}'`,
    `StartTime >= '${options.from.toISOString()}'`,
    `StartTime < '${options.to.toISOString()}'`,
  ].join(' AND ');
  const executions: WorkflowExecutionInfo[] = [];
  for await (const execution of client.workflow.list({ query })) executions.push(execution);
  return executions;
}

/**
 * The event's input and the charge its history recorded, for histories from before the charge was
 * written into the memo: the settlement's local-activity marker result when it holds the posting
 * (histories since `settle-credits`), else one rebuilt from the older chargeCredits result and the
 * usage driveEmployee returned. No charge: not settled yet, or failed. It reads the SDK's marker
 * name (`core_local_activity`), which is not a public contract: that is why new events carry their
 * charge in the memo, and why this path can go once no such history is within retention.
 */
export function chargeInHistory(events: HistoryEvent[]): { input: WebhookEventInput; charge?: Posting } {
  const input = decode<WebhookEventInput>(events[0]?.workflowExecutionStartedEventAttributes?.input);
  if (!input) throw new Error('history does not start with the event workflow input');
  let usage: EmployeeOutcome['usage'] | undefined;
  for (const event of events) {
    const completed = event.activityTaskCompletedEventAttributes;
    if (completed) usage = decode<EmployeeOutcome>(completed.result)?.usage ?? usage;
    const marker = event.markerRecordedEventAttributes;
    if (marker?.markerName !== 'core_local_activity') continue;
    const data = decode<{ activity_type?: string; complete_time?: { seconds?: number } }>(marker.details?.data);
    if (!data?.activity_type || !CHARGE_ACTIVITIES.has(data.activity_type)) continue;
    const result = decode<ChargeResult>(marker.details?.result);
    if (!result) continue;
    if (result.posting) return { input, charge: result.posting };
    // A settlement of a failed event: nothing was charged.
    if (data.activity_type === 'settleCredits') return { input };
    const at = data.complete_time?.seconds ? new Date(Number(data.complete_time.seconds) * 1000) : new Date(Number(event.eventTime?.seconds ?? 0) * 1000);
    return { input, charge: legacyCharge(input, result, usage, at) };
  }
  return { input };
}

/** A charge from before the posting was kept in the result: its amounts, the event's usage, no price. */
function legacyCharge(input: WebhookEventInput, result: ChargeResult, usage: EmployeeOutcome['usage'] | undefined, at: Date): Posting {
  return {
    id: randomUUID(),
    kind: 'charge',
    at: at.toISOString(),
    credits: -result.credits,
    messageId: input.messageId,
    employeeId: input.employeeId,
    event: input.event,
    tokensIn: usage?.promptTokens,
    tokensOut: usage?.completionTokens,
    runtimeMs: usage?.runtimeMs,
    model: usage?.model,
    tokenCredits: result.tokenCredits,
    runtimeCredits: result.runtimeCredits,
  };
}

/**
 * Reservations open longer than `staleAfterMs` whose event will never settle them: no workflow run
 * for the message (the API died between reserving and starting, or the start failed and the
 * release did not get through), or a run that closed without settling (terminated from outside).
 * A running workflow keeps its reservation: it settles when it ends.
 */
async function staleReservations(client: Client, ledger: Ledger, options: ReconcileOptions, now: Date): Promise<StaleReservation[]> {
  const cutoff = now.getTime() - options.staleAfterMs;
  const open = await ledger.openReservations(options.accountId, options.from, options.to);
  const candidates = open.filter((o) => o.since.getTime() <= cutoff);
  const stale: StaleReservation[] = [];
  await forEachLimited(candidates, HISTORY_CONCURRENCY, async ({ messageId, workflowId, since }) => {
    const why = await whyUnsettled(client, workflowId, messageId);
    if (!why) return;
    // An event that never started was never accepted: its message record goes with the reservation.
    const release = why === 'never started' ? ledger.releaseUnaccepted.bind(ledger) : ledger.release.bind(ledger);
    const released = options.repair ? await release(options.accountId, messageId, why) : false;
    // Released meanwhile (a workflow releases before it closes, or another repair did): not stale.
    if (!released && !(await ledger.isReserved(options.accountId, messageId))) return;
    stale.push({ message_id: messageId, workflow_id: workflowId, since: since.toISOString(), why, released });
  });
  return stale.sort((a, b) => compare(a.since, b.since) || compare(a.message_id, b.message_id));
}

/** Undefined while the message's own run is still running: it will settle. */
async function whyUnsettled(client: Client, workflowId: string, messageId: string): Promise<StaleReservation['why'] | undefined> {
  try {
    const description = await client.workflow.getHandle(workflowId).describe();
    // The id's latest run belongs to another message: this message's run never started (or closed long ago).
    if ((description.memo as { messageId?: string } | undefined)?.messageId !== messageId) return 'never started';
    return description.status.name === 'RUNNING' ? undefined : 'workflow closed';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return 'never started';
    throw err;
  }
}

/** A history with the payloads reconcile reads run through the client's codecs (encrypted payloads decrypted). */
async function decodedHistory(client: Client, execution: WorkflowExecutionInfo): Promise<HistoryEvent[]> {
  const events = (await client.workflow.getHandle(execution.workflowId, execution.runId).fetchHistory()).events ?? [];
  const codecs = client.options.loadedDataConverter.payloadCodecs;
  if (codecs.length === 0) return events;
  const decodeAll = async (container: Payloads) => {
    if (!container?.payloads?.length) return;
    let payloads = container.payloads as Parameters<(typeof codecs)[number]['decode']>[0];
    for (const codec of [...codecs].reverse()) payloads = await codec.decode(payloads);
    container.payloads = payloads;
  };
  for (const event of events) {
    await decodeAll(event.workflowExecutionStartedEventAttributes?.input);
    await decodeAll(event.activityTaskCompletedEventAttributes?.result);
    await decodeAll(event.markerRecordedEventAttributes?.details?.data);
    await decodeAll(event.markerRecordedEventAttributes?.details?.result);
  }
  return events;
}

function decode<T>(payloads: Payloads): T | undefined {
  const payload = payloads?.payloads?.[0];
  return payload ? defaultPayloadConverter.fromPayload<T>(payload) : undefined;
}

async function forEachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++]);
  });
  await Promise.all(lanes);
}
