import { randomUUID } from 'node:crypto';
import { verifyAudit, type VerifyResult } from '../../src/billing/verify';
import { freePort } from '../../src/dev/services';
import { awaitCompleted, postBurst } from './burst';
import { startFakeModelServer, type FakeModelServer } from './fake-model-server';
import { createHarness, eventually, type Harness, type Seeded } from './harness';
import { debitedMessageIds, repeated } from './ledger-checks';
import { killAllServices, startService, type ServiceProcess } from './processes';

export interface DrillStack<S = undefined> {
  taskQueue: string;
  /** The private server asked for with `service` (e.g. privateTemporal()), to kill and restart. */
  service: S;
  h: Harness;
  acct: Seeded;
  /** Present when asked for with `fakeModel`. */
  fake: FakeModelServer;
  /**
   * The environment of this stack's child processes: its task queue, the fake model (if any) and
   * the overrides (a private server's address), then `extra`.
   */
  env(extra?: Record<string, string>): Record<string, string>;
  /** `src/worker.ts` as a child process on this stack's env; resolves once it polls. */
  startWorker(extra?: Record<string, string>): Promise<ServiceProcess>;
  /** `src/api.ts` as a child process on this stack's env and a free port; resolves once it answers /healthz. */
  startApi(extra?: Record<string, string>): Promise<{ api: ServiceProcess; url: string }>;
}

export interface DrillStackOptions<S> {
  fakeModel?: boolean;
  worker?: boolean;
  credits?: number;
  /**
   * Starts a server of this file's own (privateRedis, privateTemporal, privatePostgres: one the drill
   * kills) before anything else, and stops it after everything else.
   */
  service?: () => Promise<S>;
  /** Environment for the harness and the child processes, e.g. the private server's address. */
  overrides?: (service: S) => Record<string, string>;
}

/**
 * The common set-up of drills and process tests: an in-process API (no in-process worker unless
 * asked) on a task queue of its own, optionally a fake model server and a private server, and a
 * funded account whose rate limit never gets in the way. Registers its own beforeAll/afterAll;
 * read the fields inside tests.
 */
export function useDrillStack<S extends { stop(): Promise<void> } | undefined = undefined>(name: string, opts: DrillStackOptions<S> = {}): DrillStack<S> {
  const stack = { taskQueue: `drill-${name}-${randomUUID()}` } as DrillStack<S>;
  stack.env = (extra = {}) => ({
    TEMPORAL_TASK_QUEUE: stack.taskQueue,
    ...(opts.fakeModel ? { OPENAI_BASE_URL: stack.fake.baseURL } : {}),
    ...opts.overrides?.(stack.service),
    ...extra,
  });
  stack.startWorker = async (extra = {}) => {
    const worker = startService('src/worker.ts', stack.env({ LOG_LEVEL: 'info', ...extra }));
    await untilOutput(worker, 'worker polling');
    return worker;
  };
  stack.startApi = async (extra = {}) => {
    const port = await freePort();
    const api = startService('src/api.ts', stack.env({ PORT: String(port), HOST: '127.0.0.1', ...extra }));
    const url = `http://127.0.0.1:${port}`;
    await eventually(`API on ${port}`, async () => ((await fetch(`${url}/healthz`).catch(() => undefined))?.ok ? true : undefined), 30_000).catch(
      (err: Error) => {
        throw new Error(`${err.message}\n${api.output.join('')}`);
      },
    );
    return { api, url };
  };
  if (opts.service) {
    const start = opts.service;
    beforeAll(async () => {
      stack.service = await start();
    }, 60_000);
  }
  beforeAll(async () => {
    if (opts.fakeModel) stack.fake = await startFakeModelServer();
    stack.h = await createHarness(
      { TEMPORAL_TASK_QUEUE: stack.taskQueue, ...(opts.fakeModel ? { OPENAI_BASE_URL: stack.fake.baseURL } : {}), ...opts.overrides?.(stack.service) },
      { worker: opts.worker ?? false },
    );
    stack.acct = await stack.h.seedAccount({ credits: opts.credits ?? 100_000 });
    await stack.h.accounts.updateAccount(stack.acct.accountId, { rateLimitPerMinute: 100_000 });
  }, 60_000);
  afterAll(async () => {
    await killAllServices();
    await stack.h?.close();
    await stack.fake?.close();
    await stack.service?.stop();
  });
  return stack;
}

/** Waits until a child process has printed `text` (or fails with everything it printed). */
export async function untilOutput(service: ServiceProcess, text: string, timeoutMs = 30_000): Promise<void> {
  await eventually(`${service.name} to print "${text}"`, async () => (service.output.join('').includes(text) ? true : undefined), timeoutMs).catch(
    (err: Error) => {
      throw new Error(`${err.message}\n${service.output.join('')}`);
    },
  );
}

/** What PostgreSQL holds of an account's events, for a drill's final checks. */
export interface LedgerState {
  /** Message ids with a charge posting, one entry per posting (a message charged twice shows twice). */
  charged: string[];
  /** Message ids with a reserve posting: the events the ingest accepted credits for. */
  reserved: string[];
  /** Message ids with a message record: what the status API knows as accepted. */
  messages: string[];
  /** Reservations not yet released. */
  openReservations: string[];
  /** `credits verify` on the account. */
  verify: VerifyResult;
}

/** Reads the account's postings, message records and open reservations, and audits its ledger. */
export async function ledgerState(h: Harness, accountId: string): Promise<LedgerState> {
  const postings = await h.ledger.postings(accountId);
  const ids = async (sql: string) => (await h.db.query<{ id: string }>(sql, [accountId])).rows.map((r) => r.id).sort();
  const audit = await h.ledger.audit(accountId);
  if (!audit) throw new Error(`account ${accountId} has no credit balance`);
  return {
    charged: postings
      .filter((p) => p.kind === 'charge')
      .map((p) => p.messageId!)
      .sort(),
    reserved: postings
      .filter((p) => p.kind === 'reserve')
      .map((p) => p.messageId!)
      .sort(),
    messages: await ids('SELECT id FROM messages WHERE account_id = $1'),
    openReservations: await ids('SELECT message_id AS id FROM open_reservations WHERE account_id = $1'),
    verify: verifyAudit(accountId, audit),
  };
}

/**
 * The end state of a drill in which every accepted event finished: exactly the accepted events were
 * recorded, reserved for and charged, each once, nothing is still held, and the ledger audits clean.
 */
export function expectSettledExactly(state: LedgerState, accepted: string[]): void {
  const expected = [...accepted].sort();
  expect(state.charged).toEqual(expected);
  expect(state.reserved).toEqual(expected);
  expect(state.messages).toEqual(expected);
  expect(state.openReservations).toEqual([]);
  expect(state.verify.problems).toEqual([]);
  expect(state.verify.ok).toBe(true);
}

/**
 * Posts `count` events (every one must be accepted) with the fake model answering each call after
 * `hangMs`, starts a worker and resolves once `calls` model calls have reached the fake: events in
 * flight in that worker.
 */
export async function eventsInFlight(
  stack: DrillStack<unknown>,
  count: number,
  opts: { hangMs: number; calls: number },
): Promise<{ accepted: string[]; worker: ServiceProcess }> {
  stack.fake.setDefault({ kind: 'hang', ms: opts.hangMs });
  const { accepted } = await postBurst(stack.h, stack.acct, count);
  expect(accepted).toHaveLength(count);
  const worker = await stack.startWorker();
  await stack.fake.waitForRequests(opts.calls, 60_000);
  return { accepted, worker };
}

/** What a drill reports and checks at its end. */
export interface DrillOutcome {
  /** The accepted events whose workflow completed. */
  completed: string[];
  /** The message ids the ledger debited, one entry per debit posting. */
  debited: string[];
  /** For reportDrill. */
  counts: { processed: number; charged: number; charged_twice: number };
}

/** Waits for every accepted event's workflow (see awaitCompleted), then reads what the ledger debited. */
export async function drillOutcome(h: Harness, acct: Seeded, accepted: string[]): Promise<DrillOutcome> {
  const completed = await awaitCompleted(h, acct, accepted);
  const debited = await debitedMessageIds(h.ledger, acct.accountId);
  return { completed, debited, counts: { processed: completed.length, charged: debited.length, charged_twice: repeated(debited).length } };
}

/**
 * Every accepted event completed and was debited once, and the account's ledger holds exactly them
 * (see expectSettledExactly): nothing lost, nothing charged twice, nothing else recorded, reserved or held.
 */
export async function expectEachSettledOnce(h: Harness, acct: Seeded, accepted: string[], outcome: DrillOutcome): Promise<void> {
  expect([...outcome.completed].sort()).toEqual([...accepted].sort());
  expect([...outcome.debited].sort()).toEqual([...accepted].sort());
  expectSettledExactly(await ledgerState(h, acct.accountId), accepted);
}
