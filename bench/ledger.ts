import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { billingReport, type BillingReport, type GroupBy } from '../src/billing/report';
import { verifyAudit } from '../src/billing/verify';
import { AccountStore } from '../src/stores/accounts';
import { ApiKeyStore } from '../src/stores/api-keys';
import { EmployeeStore } from '../src/stores/employees';
import { Ledger } from '../src/stores/ledger';
import { createPool, inTransaction } from '../src/stores/postgres/pool';
import { UsageStore } from '../src/stores/usage';
import { rssMb, startCpuWindow, type CpuShare } from './proc';
import { startApi } from './setup';
import type { BenchChild, Stack } from './stack';
import { latencySummary, round, type LatencySummary } from './stats';

/**
 * Ledger scale: does a report's cost follow the period asked for, or the account's history? Two
 * accounts are seeded straight into PostgreSQL (a seed, not traffic: INSERT … SELECT generate_series),
 * one with `postings.large` postings and one with `postings.small`, both spread over the same `days`,
 * with the hourly rollup and the counters filled to agree with the postings, as the ledger's own
 * statements would have left them. Then the usage API answers sequential calls for both, over HTTP
 * against the built API, and the same reports are read in-process through UsageStore (the database's
 * share of the time). `credits verify` (the ledger audit, which reads the whole history on purpose)
 * is timed last.
 */
export interface LedgerPhaseContext {
  stack: Stack;
  /** The bench's own pool: seeding and checks. */
  db: pg.Pool;
  databaseUrl: string;
  serviceEnv: Record<string, string>;
  runId: string;
  /** Processes whose CPU the phase reports; the API child is added while it runs. */
  pids: Record<string, number | undefined>;
  idleRssMb: Record<string, number | undefined>;
  /** /readyz when the run has a Temporal server; /healthz when it has none (the usage API needs none). */
  apiReady: '/readyz' | '/healthz';
  postings: { large: number; small: number };
  days: number;
  /** Measured calls per query, account and path; `warmup` more before them, not counted. */
  calls: number;
  warmup: number;
  auditRuns: number;
  log(line: string): void;
}

export type LedgerQuery = 'usage_1d' | 'report_30d_by_employee';

export interface SeededAccount {
  account_id: string;
  postings: number;
  events: number;
  top_ups: number;
  usage_hourly_rows: number;
  seed_s: number;
}

export interface LatencyPair {
  query: LedgerQuery;
  /** `http`: GET /api/billing/usage on the API child; `store`: billingReport(UsageStore) in this process. */
  via: 'http' | 'store';
  large: LatencySummary;
  small: LatencySummary;
  ratio_p50: number;
  ratio_p99: number;
}

export interface AuditTiming {
  postings: number;
  runs_ms: number[];
  median_ms: number;
  ok: boolean;
  problems: string[];
}

export interface LedgerReport {
  settings: {
    postings_large: number;
    postings_small: number;
    days: number;
    calls: number;
    warmup: number;
    audit_runs: number;
    employees: number;
    event_labels: number;
  };
  accounts: { large: SeededAccount; small: SeededAccount };
  /** VACUUM (ANALYZE) after the seed, as autovacuum would soon do on its own. */
  vacuum_s: number;
  /** The period each query covers; call i ends `i mod rotate_days` days before the seed's end. */
  periods: Record<LedgerQuery, string>;
  latency: LatencyPair[];
  audit: { large: AuditTiming; small: AuditTiming; ratio_median: number; cli_statement_timeout_ms: number };
  /** CPU over the measured calls (both accounts, both paths). */
  cpu: CpuShare;
  /** Plans of the usage statement (auto_explain, ANALYZE, after the statement's plan settled), large account. */
  plans: Record<LedgerQuery, string>;
}

const DAY_MS = 86_400_000;
const EMPLOYEES = 4;
/** null: an event without a label (the rollup's ''). */
const EVENT_LABELS = ['order.completed', 'ticket.opened', 'invoice.paid', 'lead.created', null];
const RESERVE_CREDITS = 10;
const PRICE = { model: 'default', promptPer1k: 1, completionPer1k: 1, runtimePerSecond: 1 };
/** What `sistava credits verify` runs under: the CLI's pool is fail-fast (src/cli/run.ts). */
const CLI_STATEMENT_TIMEOUT_MS = 5_000;

/**
 * `events` reserve/charge/release triples spread evenly over [start, start + span), plus `topUps`
 * top-ups spread over the same span, inserted in time order. Shaped like the ledger's own statements
 * write them: the charge carries usage, price and model; the release only its reserved delta and reason.
 */
const SEED_POSTINGS = `
WITH ev AS (
  SELECT i, gen_random_uuid() AS message_id,
         to_timestamp(($2::float8 + $3::float8 * (i + 0.5) / $4::int) / 1000) AS at,
         ($5::uuid[])[1 + i % cardinality($5::uuid[])] AS employee_id,
         ($6::text[])[1 + (i / 3) % cardinality($6::text[])] AS event,
         (200 + (i * 37) % 1800)::bigint AS tokens_in,
         (50 + (i * 53) % 450)::bigint AS tokens_out,
         (300 + (i * 97) % 5000)::bigint AS runtime_ms
  FROM generate_series(0, $4::int - 1) AS i
), priced AS (
  SELECT ev.*, (tokens_in + tokens_out + 999) / 1000 AS token_credits, (runtime_ms + 999) / 1000 AS runtime_credits FROM ev
)
INSERT INTO postings (id, account_id, kind, at, credits, reserved, message_id, employee_id, event, workflow_id,
                      tokens_in, tokens_out, runtime_ms, token_credits, runtime_credits, price, model, reason)
SELECT gen_random_uuid(), $1::uuid, kind, at, credits, reserved, message_id, employee_id, event, workflow_id,
       tokens_in, tokens_out, runtime_ms, token_credits, runtime_credits, price, model, reason
FROM (
  SELECT p.at + k.lag AS at, k.n, k.kind,
         CASE k.kind WHEN 'charge' THEN -(p.token_credits + p.runtime_credits) ELSE 0 END AS credits,
         CASE k.kind WHEN 'reserve' THEN $7::bigint WHEN 'release' THEN -$7::bigint ELSE 0 END AS reserved,
         p.message_id,
         CASE WHEN k.kind <> 'release' THEN p.employee_id END AS employee_id,
         CASE WHEN k.kind <> 'release' THEN p.event END AS event,
         CASE WHEN k.kind = 'reserve' THEN 'bench-ledger-' || p.message_id END AS workflow_id,
         CASE WHEN k.kind = 'charge' THEN p.tokens_in END AS tokens_in,
         CASE WHEN k.kind = 'charge' THEN p.tokens_out END AS tokens_out,
         CASE WHEN k.kind = 'charge' THEN p.runtime_ms END AS runtime_ms,
         CASE WHEN k.kind = 'charge' THEN p.token_credits END AS token_credits,
         CASE WHEN k.kind = 'charge' THEN p.runtime_credits END AS runtime_credits,
         CASE WHEN k.kind = 'charge' THEN $8::jsonb END AS price,
         CASE WHEN k.kind = 'charge' THEN $9::text END AS model,
         CASE WHEN k.kind = 'release' THEN 'settled' END AS reason
  FROM priced p
  CROSS JOIN (VALUES (1, 'reserve', interval '0'), (2, 'charge', interval '1.5 s'), (3, 'release', interval '1.5 s')) AS k (n, kind, lag)
  UNION ALL
  SELECT to_timestamp(($2::float8 + $3::float8 * j / $10::int) / 1000), 0, 'topup', $11::bigint, 0,
         NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
  FROM generate_series(0, $10::int - 1) AS j
) r
ORDER BY at, n`;

/** The hourly rollup of the inserted charges, exactly as ledger_settle adds each charge to it. */
const SEED_ROLLUP = `
INSERT INTO usage_hourly (account_id, hour, employee_id, event, events, credits, token_credits, runtime_credits, tokens_in, tokens_out, runtime_ms)
SELECT account_id, date_trunc('hour', at, 'UTC'), employee_id, coalesce(event, ''), count(*), sum(-credits),
       sum(coalesce(token_credits, 0)), sum(coalesce(runtime_credits, 0)), sum(coalesce(tokens_in, 0)),
       sum(coalesce(tokens_out, 0)), sum(coalesce(runtime_ms, 0))
FROM postings WHERE account_id = $1 AND kind = 'charge'
GROUP BY 1, 2, 3, 4`;

/** The daily rollup, from the hourly one (as the migration that introduced it backfills it). */
const SEED_DAILY_ROLLUP = `
INSERT INTO usage_daily (account_id, day, employee_id, event, events, credits, token_credits, runtime_credits, tokens_in, tokens_out, runtime_ms)
SELECT account_id, date_trunc('day', hour, 'UTC'), employee_id, event, sum(events), sum(credits), sum(token_credits), sum(runtime_credits),
       sum(tokens_in), sum(tokens_out), sum(runtime_ms)
FROM usage_hourly WHERE account_id = $1
GROUP BY 1, 2, 3, 4`;

/** The counters: the sums of the postings (every reservation is released, so reserved is 0). */
const SEED_COUNTERS = `
UPDATE credit_balances b SET balance = s.balance, reserved = s.reserved
FROM (SELECT coalesce(sum(credits), 0) AS balance, coalesce(sum(reserved), 0) AS reserved FROM postings WHERE account_id = $1) s
WHERE b.account_id = $1`;

interface Seeded extends SeededAccount {
  apiKey: string;
}

/** An account with its employees and key through the stores, then its history in one transaction. */
async function seedLedgerAccount(db: pg.Pool, runId: string, label: string, postings: number, days: number, end: Date): Promise<Seeded> {
  const started = performance.now();
  const account = await new AccountStore(db).createAccount({
    email: `bench+${runId}-ledger-${label}@sistava.local`,
    emailVerified: true,
    webhookEnabled: true,
  });
  const employees = new EmployeeStore(db);
  const employeeIds: string[] = [];
  for (let k = 1; k <= EMPLOYEES; k++) employeeIds.push((await employees.createEmployee({ accountId: account.id, name: `Ledger ${k}` })).id);
  const { key } = await new ApiKeyStore(db).createApiKey(account.id, 'bench-ledger');

  let topUps = Math.max(1, Math.round(postings / 1000));
  const events = Math.floor((postings - topUps) / 3);
  topUps = postings - 3 * events;
  // An event costs at most 9 credits here: each top-up covers twice what the events after it spend.
  const topUpCredits = Math.ceil(events / topUps) * 20;
  const spanMs = days * DAY_MS;
  let rollupRows = 0;
  await inTransaction(db, async (client) => {
    await client.query(`SET LOCAL statement_timeout = 0`);
    await client.query(`SET LOCAL work_mem = '256MB'`);
    const inserted = await client.query(SEED_POSTINGS, [
      account.id,
      end.getTime() - spanMs,
      spanMs,
      events,
      employeeIds,
      EVENT_LABELS,
      RESERVE_CREDITS,
      JSON.stringify(PRICE),
      'gpt-4o-mini',
      topUps,
      topUpCredits,
    ]);
    if (inserted.rowCount !== postings) throw new Error(`seeded ${inserted.rowCount} postings, expected ${postings}`);
    rollupRows = (await client.query(SEED_ROLLUP, [account.id])).rowCount ?? 0;
    await client.query(SEED_DAILY_ROLLUP, [account.id]);
    await client.query(SEED_COUNTERS, [account.id]);
  });
  return {
    account_id: account.id,
    apiKey: key,
    postings,
    events,
    top_ups: topUps,
    usage_hourly_rows: rollupRows,
    seed_s: round((performance.now() - started) / 1000, 2),
  };
}

interface Period {
  from: Date;
  to: Date;
  groupBy: GroupBy;
}

/** Call i's period: it ends `i mod rotate` days before the seed's end, so calls do not all read the same hours. */
function periodOf(query: LedgerQuery, i: number, end: Date, rotateDays: number): Period {
  const to = new Date(end.getTime() - (i % rotateDays) * DAY_MS);
  const length = query === 'usage_1d' ? DAY_MS : 30 * DAY_MS;
  return { from: new Date(to.getTime() - length), to, groupBy: 'employee' };
}

/** GET /api/billing/usage; the one-day query sends no group_by (the default, employee). */
function usageUrl(baseUrl: string, query: LedgerQuery, p: Period): string {
  const params = new URLSearchParams({ from: p.from.toISOString(), to: p.to.toISOString() });
  if (query !== 'usage_1d') params.set('group_by', p.groupBy);
  return `${baseUrl}/api/billing/usage?${params.toString()}`;
}

async function getUsage(url: string, apiKey: string): Promise<string> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${apiKey}` } });
  const body = await res.text();
  if (res.status !== 200) throw new Error(`GET ${url} answered ${res.status}: ${body.slice(0, 300)}`);
  return body;
}

/** The charges of [from, to) summed straight from the postings: what every report must agree with. */
async function chargedIn(db: pg.Pool, accountId: string, p: Period): Promise<{ events: number; credits: number }> {
  const { rows } = await db.query<{ events: number; credits: number }>(
    `SELECT count(*)::int AS events, coalesce(-sum(credits), 0)::bigint AS credits
     FROM postings WHERE account_id = $1 AND kind = 'charge' AND at >= $2 AND at < $3`,
    [accountId, p.from, p.to],
  );
  return rows[0];
}

/**
 * The plan of the usage statement as the API runs it: a server-side prepared statement, executed a
 * few times first so the planner has settled on a generic or a custom plan, then once more under
 * auto_explain with ANALYZE and BUFFERS, its plan delivered to this client as a NOTICE.
 */
async function capturePlan(databaseUrl: string, accountId: string, p: Period): Promise<string> {
  const pool = createPool(databaseUrl, { name: 'bench-explain', max: 1 });
  const notices: string[] = [];
  pool.on('connect', (client) => client.on('notice', (msg) => notices.push(msg.message ?? '')));
  try {
    await pool.query(`LOAD 'auto_explain'`);
    await pool.query(`SET auto_explain.log_min_duration = -1`);
    const usage = new UsageStore(pool);
    for (let i = 0; i < 6; i++) await usage.usage(accountId, p.groupBy, p.from, p.to);
    await pool.query(
      `SET auto_explain.log_min_duration = 0; SET auto_explain.log_analyze = on; SET auto_explain.log_buffers = on; SET auto_explain.log_level = notice; SET client_min_messages = notice`,
    );
    await usage.usage(accountId, p.groupBy, p.from, p.to);
    return notices.find((n) => n.includes('usage_hourly')) ?? '(no plan captured)';
  } finally {
    await pool.end();
  }
}

/** `credits verify`: the ledger's audit, timed on its own connection without a statement timeout. */
async function timeAudit(databaseUrl: string, accountId: string, runs: number): Promise<AuditTiming> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 1, application_name: 'bench-audit' });
  pool.on('error', () => undefined);
  try {
    const ledger = new Ledger(pool);
    const times: number[] = [];
    let result: ReturnType<typeof verifyAudit> | undefined;
    for (let r = 0; r < runs; r++) {
      const t0 = performance.now();
      const audit = await ledger.audit(accountId);
      times.push(round(performance.now() - t0, 1));
      if (!audit) throw new Error(`account ${accountId} has no credit balance`);
      result = verifyAudit(accountId, audit);
    }
    const sorted = [...times].sort((a, b) => a - b);
    return {
      postings: result!.postings,
      runs_ms: times,
      median_ms: sorted[Math.floor(sorted.length / 2)],
      ok: result!.ok,
      problems: result!.problems.slice(0, 5),
    };
  } finally {
    await pool.end();
  }
}

export async function ledgerPhase(ctx: LedgerPhaseContext): Promise<{ report: LedgerReport; api: BenchChild }> {
  const end = new Date();
  ctx.log(`ledger: seeding ${ctx.postings.large.toLocaleString('en')} and ${ctx.postings.small.toLocaleString('en')} postings over ${ctx.days} days …`);
  const large = await seedLedgerAccount(ctx.db, ctx.runId, 'large', ctx.postings.large, ctx.days, end);
  ctx.log(`  large account ${large.account_id}: ${large.events} events, ${large.top_ups} top-ups, ${large.usage_hourly_rows} rollup rows in ${large.seed_s} s`);
  const small = await seedLedgerAccount(ctx.db, ctx.runId, 'small', ctx.postings.small, ctx.days, end);
  ctx.log(`  small account ${small.account_id}: ${small.events} events, ${small.top_ups} top-ups, ${small.usage_hourly_rows} rollup rows in ${small.seed_s} s`);
  const vacuumStarted = performance.now();
  await ctx.db.query('VACUUM (ANALYZE) postings, usage_hourly, usage_daily, credit_balances');
  const vacuum_s = round((performance.now() - vacuumStarted) / 1000, 2);
  ctx.log(`  VACUUM (ANALYZE) in ${vacuum_s} s`);

  const api = await startApi(ctx.stack, 'api-ledger', { ...ctx.serviceEnv, TEMPORAL_TASK_QUEUE: `bench-ledger-${ctx.runId}` }, ctx.apiReady);
  ctx.pids.api = api.child.pid;
  ctx.idleRssMb.api_ledger_phase = rssMb(api.child.pid);
  // The API's own pool settings (fail-fast, 5 s statement timeout), in this process.
  const storePool = createPool(ctx.databaseUrl, { name: 'bench-report', failFast: true });
  try {
    const usage = new UsageStore(storePool);
    const rotateDays = Math.max(1, ctx.days - 30);
    const queries: LedgerQuery[] = ['usage_1d', 'report_30d_by_employee'];
    const accounts = { large, small };

    // Every path must give the same figures as the postings themselves, or the timings mean nothing.
    for (const query of queries) {
      for (const account of [large, small]) {
        const p = periodOf(query, 0, end, rotateDays);
        const viaHttp = JSON.parse(await getUsage(usageUrl(api.baseUrl, query, p), account.apiKey)) as BillingReport;
        const viaStore = await billingReport(usage, account.account_id, p);
        const truth = await chargedIn(ctx.db, account.account_id, p);
        for (const [what, r] of [
          ['HTTP', viaHttp.totals],
          ['UsageStore', viaStore.totals],
        ] as const) {
          if (r.events !== truth.events || r.credits !== truth.credits || truth.events === 0) {
            throw new Error(
              `${query} ${what} for ${account.account_id}: ${r.events} events / ${r.credits} credits, postings say ${truth.events} / ${truth.credits}`,
            );
          }
        }
      }
    }

    type Key = `${LedgerQuery}/${'http' | 'store'}/${'large' | 'small'}`;
    const series: Array<{ key: Key; run: (i: number) => Promise<unknown> }> = [];
    for (const query of queries) {
      for (const via of ['http', 'store'] as const) {
        for (const name of ['large', 'small'] as const) {
          const account = accounts[name];
          const run =
            via === 'http'
              ? (i: number) => getUsage(usageUrl(api.baseUrl, query, periodOf(query, i, end, rotateDays)), account.apiKey)
              : (i: number) => billingReport(usage, account.account_id, periodOf(query, i, end, rotateDays));
          series.push({ key: `${query}/${via}/${name}`, run });
        }
      }
    }
    ctx.log(`ledger: ${ctx.warmup} warm-up and ${ctx.calls} measured sequential calls per query, path and account (${series.length} series, interleaved)`);
    for (let i = 0; i < ctx.warmup; i++) for (const s of series) await s.run(i);
    const latencies = new Map<Key, number[]>(series.map((s) => [s.key, []]));
    const window = startCpuWindow(ctx.pids);
    for (let i = 0; i < ctx.calls; i++) {
      // Alternate the order each round, so no series always follows the same one.
      for (const s of i % 2 === 0 ? series : [...series].reverse()) {
        const t0 = performance.now();
        await s.run(i);
        latencies.get(s.key)!.push(performance.now() - t0);
      }
    }
    const cpu = window.stop();
    const latency: LatencyPair[] = [];
    for (const query of queries) {
      for (const via of ['http', 'store'] as const) {
        const l = latencySummary(latencies.get(`${query}/${via}/large`)!);
        const s = latencySummary(latencies.get(`${query}/${via}/small`)!);
        latency.push({ query, via, large: l, small: s, ratio_p50: round(l.p50_ms / s.p50_ms, 2), ratio_p99: round(l.p99_ms / s.p99_ms, 2) });
        ctx.log(`  ${query} via ${via}: large p50 ${l.p50_ms} / p99 ${l.p99_ms} ms, small p50 ${s.p50_ms} / p99 ${s.p99_ms} ms`);
      }
    }

    const plans = {} as Record<LedgerQuery, string>;
    for (const query of queries) plans[query] = await capturePlan(ctx.databaseUrl, large.account_id, periodOf(query, 0, end, rotateDays));

    ctx.log(`ledger: timing credits verify (the audit), ${ctx.auditRuns} runs per account …`);
    const auditLarge = await timeAudit(ctx.databaseUrl, large.account_id, ctx.auditRuns);
    const auditSmall = await timeAudit(ctx.databaseUrl, small.account_id, ctx.auditRuns);
    ctx.log(`  audit large ${auditLarge.runs_ms.join(' / ')} ms (${auditLarge.ok ? 'OK' : 'MISMATCH'}), small ${auditSmall.runs_ms.join(' / ')} ms`);

    const seeded = (s: Seeded): SeededAccount => {
      const { apiKey: _key, ...rest } = s;
      return rest;
    };
    return {
      api: api.child,
      report: {
        settings: {
          postings_large: ctx.postings.large,
          postings_small: ctx.postings.small,
          days: ctx.days,
          calls: ctx.calls,
          warmup: ctx.warmup,
          audit_runs: ctx.auditRuns,
          employees: EMPLOYEES,
          event_labels: EVENT_LABELS.length,
        },
        accounts: { large: seeded(large), small: seeded(small) },
        vacuum_s,
        periods: {
          usage_1d: `[to − 1 day, to), default group_by (employee); to = seed end − (i mod ${rotateDays}) days`,
          report_30d_by_employee: `[to − 30 days, to), group_by=employee; to = seed end − (i mod ${rotateDays}) days`,
        },
        latency,
        audit: {
          large: auditLarge,
          small: auditSmall,
          ratio_median: round(auditLarge.median_ms / auditSmall.median_ms, 1),
          cli_statement_timeout_ms: CLI_STATEMENT_TIMEOUT_MS,
        },
        cpu,
        plans,
      },
    };
  } finally {
    await storePool.end();
    await api.child.stop();
    delete ctx.pids.api;
  }
}
