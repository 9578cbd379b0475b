import fs from 'node:fs';
import { reconcile } from '../../src/billing/reconcile';
import type { SupervisedState } from '../../src/dev/supervisor';
import { waitForPollers } from '../../src/dev/temporal-cluster/pollers';
import { postBurst, type BurstAnswer } from '../helpers/burst';
import { ledgerState } from '../helpers/drill-stack';
import { debitedMessageIds, repeated } from '../helpers/ledger-checks';
import { createHarness, eventually, type Harness, type Seeded } from '../helpers/harness';
import { API_NAMES, CLUSTER_TASK_QUEUE, WORKER_NAMES, type ClusterState } from './cluster-env';

/** What a cluster drill works with: a harness on the cluster's servers, a funded account, the two APIs. */
export interface Cluster {
  h: Harness;
  acct: Seeded;
  apis: string[];
}

/**
 * Registers beforeAll/afterAll: waits until the whole stack is healthy (a drill before may have killed
 * something), then a harness on the cluster's PostgreSQL, Redis and Temporal and a funded account of
 * this file's own whose rate limit never gets in the way.
 */
export function useCluster(): Cluster {
  const cluster = { apis: (process.env.CLUSTER_API_URLS ?? '').split(',') } as Cluster;
  beforeAll(async () => {
    await untilHealthy();
    cluster.h = await createHarness({ TEMPORAL_TASK_QUEUE: CLUSTER_TASK_QUEUE }, { worker: false });
    cluster.acct = await cluster.h.seedAccount({ credits: 10_000_000 });
    await cluster.h.accounts.updateAccount(cluster.acct.accountId, { rateLimitPerMinute: 1_000_000 });
  }, 180_000);
  afterAll(async () => {
    await cluster.h?.close();
  });
  return cluster;
}

export async function clusterState(): Promise<ClusterState> {
  const res = await fetch(`${process.env.CLUSTER_CONTROL_URL}/state`);
  return (await res.json()) as ClusterState;
}

export async function child(name: string) {
  const found = (await clusterState()).children.find((c) => c.name === name);
  if (!found) throw new Error(`no child ${name}`);
  return found;
}

/** Kills through the service's own stop (for PostgreSQL: its whole process family, like a crash). */
export async function killThroughControl(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  const res = await fetch(`${process.env.CLUSTER_CONTROL_URL}/kill?name=${name}&signal=${signal}`, { method: 'POST' });
  if (!res.ok) throw new Error(`kill ${name}: ${res.status} ${await res.text()}`);
}

/** Every supervised process runs, both APIs are ready, both workers poll. */
export async function untilHealthy(timeoutMs = 120_000): Promise<void> {
  await eventually('every cluster process running', async () => ((await clusterState()).children.every((c) => c.running) ? true : undefined), timeoutMs);
  const apis = (process.env.CLUSTER_API_URLS ?? '').split(',');
  await eventually(
    'both APIs ready',
    async () => {
      const answers = await Promise.all(
        apis.map((url) =>
          fetch(`${url}/readyz`).then(
            (r) => r.status,
            () => 0,
          ),
        ),
      );
      return answers.every((s) => s === 200) ? true : undefined;
    },
    timeoutMs,
  );
  const state = await clusterState();
  const pids = state.children.filter((c) => (WORKER_NAMES as readonly string[]).includes(c.name)).map((c) => c.pid!);
  await waitForPollers(process.env.TEST_TEMPORAL_ADDRESS!, 'default', CLUSTER_TASK_QUEUE, pids, timeoutMs);
}

/** Waits until the supervisor has restarted `name` (more restarts than `before`) and it runs. */
export async function untilRestarted(name: string, before: number, timeoutMs = 120_000) {
  return eventually(
    `${name} restarted`,
    async () => {
      const c = await child(name);
      return c.restarts > before && c.running ? c : undefined;
    },
    timeoutMs,
  );
}

export function supervisorLog(): string {
  return fs.readFileSync(process.env.CLUSTER_SUPERVISOR_LOG!, 'utf8');
}

/** The supervisor's log line for `name` killed by SIGKILL and about to be restarted, if it wrote one. */
export function sigkillLine(name: string): string | undefined {
  return supervisorLog()
    .split('\n')
    .find((line) => line.includes(`${name} exited (signal SIGKILL); restarting in`));
}

export interface ClusterBurst {
  accepted: string[];
  statuses: Record<number, number>;
  /** 202s per API process. */
  acceptedBy: Record<string, number>;
}

/**
 * `count` distinct events, request i to API i % 2, `concurrency` at a time over both (see postBurst).
 * A lane that got anything but a 2xx waits `pauseAfterRefusalMs` before its next request, like a
 * client backing off.
 */
export async function burstOverApis(
  c: Cluster,
  count: number,
  opts: { concurrency?: number; label?: string; pauseAfterRefusalMs?: number; onAnswer?: (done: number, answer: BurstAnswer) => void } = {},
): Promise<ClusterBurst> {
  const acceptedBy: Record<string, number> = Object.fromEntries(API_NAMES.map((n) => [n, 0]));
  const burst = await postBurst(c.h, c.acct, count, {
    concurrency: opts.concurrency ?? 32,
    label: opts.label ?? 'cluster.drill',
    pauseAfterRefusalMs: opts.pauseAfterRefusalMs,
    to: (i) => c.apis[i % c.apis.length],
    onAnswer: (done, answer) => {
      if (answer.status === 202) acceptedBy[API_NAMES[answer.index % c.apis.length]] += 1;
      opts.onAnswer?.(done, answer);
    },
  });
  return { ...burst, acceptedBy };
}

/** Runs `work` over `items`, `lanes` at a time. */
async function inLanes<T, R>(items: T[], lanes: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await work(items[i]);
      }
    }),
  );
  return results;
}

/**
 * Waits for each event's workflow result (50 at a time: a long poll each) and returns the ids whose
 * result says completed. Past the deadline it fails with what some unfinished ones wait on.
 */
export async function awaitCompletedInCluster(c: Cluster, ids: string[], timeoutMs = 300_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  const outcome = new Map<string, string>();
  await inLanes(ids, 50, async (id) => {
    const handle = c.h.workflowHandle(c.acct.accountId, id);
    for (;;) {
      try {
        const result = (await handle.result()) as { status: string };
        outcome.set(id, result.status);
        return;
      } catch (err) {
        // The server may be restarting: the long poll fails, and is asked again until the deadline.
        if (Date.now() > deadline) {
          const d = await handle.describe().catch(() => undefined);
          throw new Error(`event ${id} unfinished after ${timeoutMs} ms: ${d?.status.name ?? '?'} ${(err as Error).message}`, { cause: err });
        }
        const d = await handle.describe().catch(() => undefined);
        if (d && d.status.name !== 'RUNNING') {
          outcome.set(id, d.status.name.toLowerCase());
          return;
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  });
  return ids.filter((id) => outcome.get(id) === 'completed');
}

export interface WorkerSpread {
  /** Events per worker slot (worker-1, worker-2): whose process ran the event's last activity. */
  perWorker: Record<string, number>;
  /** Events whose history shows a task lost with a worker and given to another (timed out, then retried). */
  retried: number;
}

/**
 * Which worker ran each event, from its history: the identity (`pid@host`) on its last
 * ActivityTaskStarted event (the model turn that succeeded), or on its last WorkflowTaskCompleted when
 * it ran no activity; pids map to slots through the supervisor's record of every pid each slot had.
 */
export async function workerSpread(c: Cluster, ids: string[]): Promise<WorkerSpread> {
  const state = await clusterState();
  const slotOfPid = new Map<number, string>();
  for (const ch of state.children) for (const pid of ch.pids) slotOfPid.set(pid, ch.name);
  const perWorker: Record<string, number> = Object.fromEntries(WORKER_NAMES.map((n) => [n, 0]));
  let retried = 0;
  const identities = await inLanes(ids, 10, async (id) => {
    const history = await c.h.workflowHandle(c.acct.accountId, id).fetchHistory();
    const events = history.events ?? [];
    const activity = events.filter((e) => e.activityTaskStartedEventAttributes).pop()?.activityTaskStartedEventAttributes?.identity;
    const task = events.filter((e) => e.workflowTaskCompletedEventAttributes).pop()?.workflowTaskCompletedEventAttributes?.identity;
    const lost = events.some(
      (e) =>
        e.workflowTaskTimedOutEventAttributes ||
        e.activityTaskTimedOutEventAttributes ||
        (e.activityTaskStartedEventAttributes?.attempt ?? 1) > 1 ||
        e.workflowTaskFailedEventAttributes,
    );
    return { identity: activity ?? task ?? '', lost };
  });
  for (const { identity, lost } of identities) {
    const slot = slotOfPid.get(Number(identity.split('@')[0])) ?? `unknown(${identity})`;
    perWorker[slot] = (perWorker[slot] ?? 0) + 1;
    if (lost) retried += 1;
  }
  return { perWorker, retried };
}

/** One `[cluster] name: k=v …` line of counts per drill, for the run log. */
export function reportCluster(name: string, counts: Record<string, number | string>): void {
  const fields = Object.entries(counts)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  process.stdout.write(`[cluster] ${name}: ${fields}\n`);
}

export interface OutageSettlement {
  /** Refused requests (502) whose credits the API had reserved and gave back itself (release reason start-failed). */
  releasedByApi: number;
  /** Refused requests whose reservation stayed open (the database went down between reserve and release), released by reconcile. */
  releasedByReconcile: number;
}

/**
 * The end state after an outage in which some requests were refused with 502: every accepted event
 * was reserved for and charged exactly once, and nothing else was charged. A refused request may
 * have reserved credits before it failed (the ledger is append-only, so its reserve posting stays):
 * either the API released them at once, or — when the database died between the reserve and the
 * release — the reservation stays open with its message record, and billing reconcile must find
 * that no workflow ever started for it and release it. Reconcile also compares every accepted
 * event's charge in Temporal (memo, through visibility on PostgreSQL) with the ledger: all match.
 */
export async function expectAcceptedSettledOnce(c: Cluster, accepted: string[]): Promise<OutageSettlement> {
  const { accountId } = c.acct;
  const acceptedSet = new Set(accepted);
  const expected = [...accepted].sort();
  const state = await ledgerState(c.h, accountId);
  expect(state.charged).toEqual(expected);
  expect(state.reserved.filter((id) => acceptedSet.has(id))).toEqual(expected);
  const refused = state.reserved.filter((id) => !acceptedSet.has(id));
  const postings = await c.h.ledger.postings(accountId);
  const releasedByApi = refused.filter((id) => postings.some((p) => p.kind === 'release' && p.messageId === id && p.reason === 'start-failed'));
  const open = [...state.openReservations].sort();
  // What is still held belongs to refused requests only, and each refused request is either released or held.
  expect(open.filter((id) => acceptedSet.has(id))).toEqual([]);
  expect([...releasedByApi, ...open].sort()).toEqual([...refused].sort());
  // A request the API released left no message record; a held one keeps its record until reconcile.
  expect(state.messages).toEqual([...accepted, ...open].sort());

  const window = { accountId, from: new Date(Date.now() - 3_600_000), to: new Date(Date.now() + 60_000), staleAfterMs: 0 };
  const report = await eventually(
    'reconcile to see every accepted event in visibility',
    async () => {
      const r = await reconcile(c.h.runs, c.h.ledger, { ...window, repair: false });
      return r.matched === accepted.length ? r : undefined;
    },
    120_000,
  );
  expect(report.missing).toEqual([]);
  expect(report.mismatched).toEqual([]);
  expect(report.workflows).toBe(accepted.length);
  const stale = [...report.stale_reservations].sort((a, b) => (a.message_id < b.message_id ? -1 : 1));
  expect(stale.map((s) => [s.message_id, s.why])).toEqual(open.map((id) => [id, 'never started']));
  if (open.length) {
    const repaired = await reconcile(c.h.runs, c.h.ledger, { ...window, repair: true });
    expect(repaired.stale_reservations.map((s) => s.released)).toEqual(open.map(() => true));
    expect(repaired.ok).toBe(true);
  }
  const after = await ledgerState(c.h, accountId);
  expect(after.charged).toEqual(expected);
  expect(after.openReservations).toEqual([]);
  expect(after.verify.problems).toEqual([]);
  expect(after.verify.ok).toBe(true);
  return { releasedByApi: releasedByApi.length, releasedByReconcile: open.length };
}

/** What happened in a kill drill (killMidBurst), for its report and checks. */
export interface KillMidBurst {
  /** The supervised process before the kill, and after its restart. */
  victim: SupervisedState;
  restarted: SupervisedState;
  /** The burst the kill met, and the 50 events sent once the stack was healthy again. */
  burst: ClusterBurst;
  after: ClusterBurst;
  accepted: string[];
  completed: string[];
  debited: string[];
  /** Events accepted before the kill and not charged yet when it came. */
  unsettledAtKill: string[];
  /** The supervisor's line about the kill (sigkillLine). */
  logLine: string | undefined;
}

/**
 * A burst of 400 events over both APIs, 16 at a time, a lane backing off 250 ms after a refusal;
 * after the 150th answer `kill(victim)` takes the supervised process `name` down. Then waits until
 * the supervisor restarted it and the whole stack is healthy, sends 50 more events (`label`.after),
 * and waits for every accepted event's workflow.
 */
export async function killMidBurst(c: Cluster, name: string, label: string, kill: (victim: SupervisedState) => Promise<void>): Promise<KillMidBurst> {
  const victim = await child(name);
  let atKill: { accepted: string[]; charged: Set<string> } | undefined;
  let killing: Promise<void> | undefined;
  const acceptedSoFar: string[] = [];
  const burst = await burstOverApis(c, 400, {
    label,
    concurrency: 16,
    pauseAfterRefusalMs: 250,
    onAnswer: (done, answer) => {
      if (answer.status === 202) acceptedSoFar.push(answer.messageId!);
      if (done !== 150) return;
      killing = (async () => {
        atKill = { accepted: [...acceptedSoFar], charged: new Set(await debitedMessageIds(c.h.ledger, c.acct.accountId)) };
        await kill(victim);
      })();
    },
  });
  await killing;
  const restarted = await untilRestarted(name, victim.restarts);
  await untilHealthy();
  // After the restart the APIs accept again.
  const after = await burstOverApis(c, 50, { label: `${label}.after`, concurrency: 8 });
  const accepted = [...burst.accepted, ...after.accepted];

  const completed = await awaitCompletedInCluster(c, accepted);
  const debited = await debitedMessageIds(c.h.ledger, c.acct.accountId);
  const unsettledAtKill = atKill!.accepted.filter((id) => !atKill!.charged.has(id));
  return { victim, restarted, burst, after, accepted, completed, debited, unsettledAtKill, logLine: sigkillLine(name) };
}

/** The run log's lines of a kill drill: its counts (and `extra`), then the supervisor's line about the kill. */
export function reportKillDrill(title: string, run: KillMidBurst, extra: Record<string, number> = {}): void {
  reportCluster(title, {
    sent: 450,
    accepted: run.accepted.length,
    refused_502: run.burst.statuses[502] ?? 0,
    accepted_after_restart: run.after.accepted.length,
    unsettled_at_kill: run.unsettledAtKill.length,
    completed: run.completed.length,
    charged: run.debited.length,
    charged_twice: repeated(run.debited).length,
    ...extra,
  });
  process.stdout.write(`[cluster] supervisor: ${run.logLine?.replace(/^\S+ /, '')}\n`);
}

/**
 * What every kill drill demands: the supervisor restarted the process (a new pid); the burst got
 * only 202s and 502s, the 50 events after the restart only 202s; events were in flight at the kill;
 * every accepted event completed and was charged once, and what the refused ones had reserved was
 * given back (expectAcceptedSettledOnce).
 */
export async function expectKillSurvived(c: Cluster, run: KillMidBurst): Promise<void> {
  expect(run.logLine).toBeDefined();
  expect(run.restarted.pid).not.toBe(run.victim.pid);
  expect(Object.keys(run.burst.statuses).filter((s) => s !== '202' && s !== '502')).toEqual([]);
  expect(run.after.statuses).toEqual({ 202: 50 });
  expect(run.unsettledAtKill.length).toBeGreaterThan(0);
  expect([...run.completed].sort()).toEqual([...run.accepted].sort());
  expect([...run.debited].sort()).toEqual([...run.accepted].sort());
  // No 502 left a charge; what a 502 had reserved was given back (by the API, or by reconcile).
  const settlement = await expectAcceptedSettledOnce(c, run.accepted);
  reportCluster('  refused requests that had reserved credits', {
    released_by_api: settlement.releasedByApi,
    released_by_reconcile: settlement.releasedByReconcile,
  });
}
