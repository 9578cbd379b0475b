import { randomUUID } from 'node:crypto';
import {
  billingReport,
  GROUP_BY,
  NO_EVENT_LABEL,
  ReportParams,
  type BillingReport,
  type GroupBy,
  type ReportRow,
  type ReportTotals,
} from '../../src/billing/report';
import type { Posting } from '../../src/domain/billing';
import { chargePosting } from '../../src/stores/ledger';
import { expectError } from '../helpers/error-body';
import type { FakeModelServer } from '../helpers/fake-model-server';
import { createHarnessWithFakeModel, eventually, type Harness, type Seeded } from '../helpers/harness';
import { runCli } from '../helpers/run-cli';

let fake: FakeModelServer;
let h: Harness;
let a: Seeded;
let b: Seeded;
let from: string;
let to: string;
const sentByA: string[] = [];
const sentByB: string[] = [];

/** A burst of events on two employees with three labels (one unlabelled), each with its own token usage. */
async function burst(acct: Seeded, employees: string[], n: number): Promise<string[]> {
  const labels = ['order.completed', 'deploy.finished', undefined];
  const responses = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      h.http
        .post('/api/webhook/')
        .set(acct.auth)
        .send({ employee_id: employees[i % employees.length], event: labels[i % labels.length], payload: `event ${i}` }),
    ),
  );
  for (const r of responses) expect(r.status).toBe(202);
  const ids = responses.map((r) => r.body.message_id as string);
  await eventually(
    'the burst settled',
    async () => ((await Promise.all(ids.map((id) => h.ledger.chargeFor(acct.accountId, id)))).every(Boolean) ? true : undefined),
    60_000,
  );
  return ids;
}

beforeAll(async () => {
  ({ h, fake } = await createHarnessWithFakeModel({ OPENAI_MODEL: 'test-model', MODEL_PRICES: '{"test-model":{"prompt_per_1k":2,"completion_per_1k":5}}' }));
  from = new Date(Date.now() - 60_000).toISOString();
  [a, b] = await Promise.all([h.seedAccount({ credits: 5000 }), h.seedAccount({ credits: 300 })]);
  const second = await h.employees.createEmployee({ accountId: a.accountId, name: 'Bea' });
  for (let i = 0; i < 24; i++) fake.enqueue({ kind: 'ok', promptTokens: 300 + 97 * i, completionTokens: 50 + 31 * i });
  sentByA.push(...(await burst(a, [a.employeeId, second.id], 24)));
  sentByB.push(...(await burst(b, [b.employeeId], 5)));
  to = new Date(Date.now() + 60_000).toISOString();
}, 120_000);
afterAll(() => h?.close());

/** The ledger's own totals for the period, summed from its charge postings (not from the hourly rollup). */
async function ledgerTotals(accountId: string) {
  const charges = (await h.ledger.postings(accountId)).filter((p) => p.kind === 'charge' && p.at >= from && p.at < to);
  return {
    events: charges.length,
    credits: charges.reduce((s, p) => s - p.credits, 0),
    token_credits: charges.reduce((s, p) => s + p.tokenCredits!, 0),
    runtime_credits: charges.reduce((s, p) => s + p.runtimeCredits!, 0),
    tokens_in: charges.reduce((s, p) => s + p.tokensIn!, 0),
    tokens_out: charges.reduce((s, p) => s + p.tokensOut!, 0),
    runtime_ms: charges.reduce((s, p) => s + p.runtimeMs!, 0),
    model_turns: charges.reduce((s, p) => s + (p.modelTurns ?? 0), 0),
    tool_calls: charges.reduce((s, p) => s + (p.toolCalls ?? 0), 0),
  };
}

const params = (groupBy: string) => ReportParams.parse({ from, to, group_by: groupBy });

const HOUR = 3_600_000;
const hourOf = (at: number) => Math.floor(at / HOUR) * HOUR;

/**
 * The report as the ledger's charge postings alone give it: every charge with `at` in [from, to),
 * grouped in the test, one posting at a time. The store sums whole hours from usage_hourly and only
 * the partial hours at the edges from the postings; both must come to this.
 */
function reportFromPostings(postings: Posting[], period: { from: Date; to: Date }, groupBy: GroupBy): { rows: ReportRow[]; totals: ReportTotals } {
  const zero = (): ReportTotals => ({
    events: 0,
    credits: 0,
    token_credits: 0,
    runtime_credits: 0,
    tokens_in: 0,
    tokens_out: 0,
    runtime_ms: 0,
    model_turns: 0,
    tool_calls: 0,
  });
  const key: Record<GroupBy, (p: Posting) => string> = {
    employee: (p) => p.employeeId!,
    event: (p) => p.event ?? NO_EVENT_LABEL,
    day: (p) => p.at.slice(0, 10),
    message: (p) => p.messageId!,
  };
  const groups = new Map<string, ReportTotals>();
  const totals = zero();
  for (const p of postings) {
    const at = Date.parse(p.at);
    if (p.kind !== 'charge' || at < period.from.getTime() || at >= period.to.getTime()) continue;
    const group = groups.get(key[groupBy](p)) ?? zero();
    groups.set(key[groupBy](p), group);
    for (const sums of [group, totals]) {
      sums.events += 1;
      sums.credits -= p.credits;
      sums.token_credits += p.tokenCredits ?? 0;
      sums.runtime_credits += p.runtimeCredits ?? 0;
      sums.tokens_in += p.tokensIn ?? 0;
      sums.tokens_out += p.tokensOut ?? 0;
      sums.runtime_ms += p.runtimeMs ?? 0;
      sums.model_turns += p.modelTurns ?? 0;
      sums.tool_calls += p.toolCalls ?? 0;
    }
  }
  return { rows: [...groups].map(([group, sums]) => ({ group, ...sums })), totals };
}

const byGroup = (rows: ReportRow[]) => [...rows].sort((x, y) => (x.group < y.group ? -1 : x.group > y.group ? 1 : 0));

/** billingReport over [from, to) has exactly the groups and totals of the charge postings, for every grouping. */
async function expectReportMatchesPostings(accountId: string, period: { from: Date; to: Date }, expectedEvents: number): Promise<void> {
  const postings = await h.ledger.postings(accountId);
  for (const groupBy of GROUP_BY) {
    const report = await billingReport(h.usage, accountId, { ...period, groupBy });
    const expected = reportFromPostings(postings, period, groupBy);
    expect({ groupBy, rows: byGroup(report.rows), totals: report.totals }).toEqual({ groupBy, rows: byGroup(expected.rows), totals: expected.totals });
    expect(report.totals.events).toBe(expectedEvents);
  }
}

describe('billing report', () => {
  it.each(['employee', 'event', 'day', 'message'])('has the ledger’s totals to the credit when grouped by %s', async (groupBy) => {
    const report = await billingReport(h.usage, a.accountId, params(groupBy));
    expect(report.totals).toEqual(await ledgerTotals(a.accountId));
    expect(report.totals.events).toBe(sentByA.length);
    const rowSum = report.rows.reduce((s, r) => s + r.credits, 0);
    expect(rowSum).toBe(report.totals.credits);
  });

  it('reconciles with the balance: top-ups minus the charges', async () => {
    const report = await billingReport(h.usage, a.accountId, params('employee'));
    expect(await h.ledger.balance(a.accountId)).toBe(5000 - report.totals.credits);
    expect(report.rows).toHaveLength(2);
    expect((await billingReport(h.usage, a.accountId, params('event'))).rows.map((r) => r.group).sort()).toEqual([
      '(none)',
      'deploy.finished',
      'order.completed',
    ]);
  });
});

describe('billing report over whole and partial hours', () => {
  it('sums the events’ real charges the same for a period cutting through hours and one within a single hour', async () => {
    const charged = (await h.ledger.postings(a.accountId))
      .filter((p) => p.kind === 'charge')
      .map((p) => Date.parse(p.at))
      .sort((x, y) => x - y);
    expect(charged).toHaveLength(sentByA.length);
    const first = charged[0];
    const last = charged[charged.length - 1];
    // Half an hour before the first charge's hour to half an hour after the last one's: whole hours from the rollup, edges from the postings.
    const throughHours = { from: new Date(hourOf(first) - HOUR / 2), to: new Date(hourOf(last) + HOUR + HOUR / 2) };
    await expectReportMatchesPostings(a.accountId, throughHours, sentByA.length);
    // From the middle charge to just after the last, inside the middle charge's hour: all of it from the postings.
    const middle = charged[Math.floor(charged.length / 2)];
    const withinHour = { from: new Date(middle), to: new Date(Math.min(last + 1, hourOf(middle) + HOUR)) };
    expect(hourOf(withinHour.from.getTime())).toBe(hourOf(withinHour.to.getTime() - 1));
    const inside = charged.filter((at) => at >= withinHour.from.getTime() && at < withinHour.to.getTime()).length;
    expect(inside).toBeGreaterThan(0);
    await expectReportMatchesPostings(a.accountId, withinHour, inside);
  });

  describe('charges at known times, posted by the ledger’s own settlement', () => {
    let acct: Seeded;
    let otherEmployee: string;
    // Midnight UTC two days ago: H0 and H1 are the last two hours of one day, H2 and H3 the first two of the next.
    const midnight = Math.floor(Date.now() / (24 * HOUR)) * 24 * HOUR - 2 * 24 * HOUR;
    const H = [midnight - 2 * HOUR, midnight - HOUR, midnight, midnight + HOUR, midnight + 2 * HOUR];
    const min = 60_000;
    const times = [
      H[0] + 5 * min,
      H[0] + 40 * min,
      H[1] + 10 * min,
      H[1] + 20 * min,
      H[1] + 50 * min,
      H[2],
      H[2] + 30 * min,
      H[3] + 10 * min,
      H[3] + 59 * min,
      H[4],
    ];

    beforeAll(async () => {
      acct = await h.seedAccount({ credits: 1000 });
      otherEmployee = (await h.employees.createEmployee({ accountId: acct.accountId, name: 'Cy' })).id;
      const labels = ['order.completed', 'deploy.finished', undefined];
      for (const [i, at] of times.entries()) {
        const charge = chargePosting(
          {
            accountId: acct.accountId,
            messageId: randomUUID(),
            employeeId: i % 2 ? otherEmployee : acct.employeeId,
            event: labels[i % 3],
            tokensIn: 100 * (i + 1),
            tokensOut: 10 * (i + 1),
            runtimeMs: 250 * (i + 1),
            model: 'test-model',
            tokenCredits: i + 1,
            runtimeCredits: 1,
            modelTurns: 1 + (i % 3),
            toolCalls: i % 4,
            price: { model: 'test-model', promptPer1k: 2, completionPer1k: 5, runtimePerSecond: 1 },
          },
          new Date(at),
        );
        expect(await h.ledger.settle(acct.accountId, charge.messageId!, charge, 'settled')).toMatchObject({ posted: true });
      }
    });

    it('rolls each charge up into its hour', async () => {
      const { rows } = await h.db.query<{ hour: Date; events: number; credits: number }>(
        'SELECT hour, sum(events)::int AS events, sum(credits)::int AS credits FROM usage_hourly WHERE account_id = $1 GROUP BY hour ORDER BY hour',
        [acct.accountId],
      );
      const postings = (await h.ledger.postings(acct.accountId)).filter((p) => p.kind === 'charge');
      const perHour = new Map<number, { events: number; credits: number }>();
      for (const p of postings) {
        const hour = perHour.get(hourOf(Date.parse(p.at))) ?? { events: 0, credits: 0 };
        perHour.set(hourOf(Date.parse(p.at)), { events: hour.events + 1, credits: hour.credits - p.credits });
      }
      expect(rows.map((r) => ({ hour: r.hour.getTime(), events: r.events, credits: r.credits }))).toEqual(
        [...perHour].map(([hour, sums]) => ({ hour, ...sums })),
      );
      expect(rows.map((r) => r.hour.getTime())).toEqual(H);
    });

    it('has the postings’ groups and totals for a period whose edges cut through hours', async () => {
      // Whole hours H1 and H2 from the rollup; H0 from 20 minutes on and H3 up to 30 minutes from the postings.
      await expectReportMatchesPostings(acct.accountId, { from: new Date(H[0] + 20 * min), to: new Date(H[3] + 30 * min) }, 7);
    });

    it('has the postings’ groups and totals for a period within a single hour', async () => {
      await expectReportMatchesPostings(acct.accountId, { from: new Date(H[1] + 5 * min), to: new Date(H[1] + 45 * min) }, 2);
    });

    it('has the postings’ groups and totals for a period of whole hours only, its end exclusive', async () => {
      await expectReportMatchesPostings(acct.accountId, { from: new Date(H[0]), to: new Date(H[4]) }, 9);
      const byDay = await billingReport(h.usage, acct.accountId, { from: new Date(H[0]), to: new Date(H[4]), groupBy: 'day' });
      expect(byDay.rows.map((r) => [r.group, r.events])).toEqual([
        [new Date(H[0]).toISOString().slice(0, 10), 5],
        [new Date(H[2]).toISOString().slice(0, 10), 4],
      ]);
    });

    it('has the postings’ groups and totals for a period with a whole UTC day in it (day, hour and posting layers)', async () => {
      // The day before midnight from usage_daily (H0, H1: 5 charges), H2 from usage_hourly (2), H3's first half hour from the postings (1).
      await expectReportMatchesPostings(acct.accountId, { from: new Date(midnight - 24 * HOUR - 30 * min), to: new Date(H[3] + 30 * min) }, 8);
      const { rows } = await h.db.query<{ day: Date; events: number }>(
        'SELECT day, sum(events)::int AS events FROM usage_daily WHERE account_id = $1 GROUP BY day ORDER BY day',
        [acct.accountId],
      );
      expect(rows.map((r) => [r.day.getTime(), r.events])).toEqual([
        [midnight - 24 * HOUR, 5],
        [midnight, 5],
      ]);
    });

    it('leaves the ledger verified: the rollup holds every charge', async () => {
      const verified = await runCli(['credits', 'verify', '--account', acct.accountId, '--json']);
      expect(verified).toMatchObject({ code: 0, json: { ok: true, balance: { counter: 1000 - (55 + 10), ledger: 1000 - (55 + 10) }, problems: [] } });
    });
  });
});

describe('GET /api/billing/usage', () => {
  const usage = (acct: Seeded, query: Record<string, string>) => h.http.get('/api/billing/usage').set(acct.auth).query(query);

  it('answers the same JSON as the shared report, with only the key’s account in it', async () => {
    const res = await usage(a, { from, to, group_by: 'message' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(await billingReport(h.usage, a.accountId, params('message')));
    const groups = (res.body as BillingReport).rows.map((r) => r.group);
    expect(groups.sort()).toEqual([...sentByA].sort());
    for (const id of sentByB) expect(groups).not.toContain(id);
  });

  it('gives each account its own data, whatever account the query names', async () => {
    const [ofA, ofB] = await Promise.all([usage(a, { from, to, account_id: b.accountId }), usage(b, { from, to, account_id: a.accountId })]);
    expect([ofA.body.account_id, ofB.body.account_id]).toEqual([a.accountId, b.accountId]);
    expect(ofA.body.totals).toEqual(await ledgerTotals(a.accountId));
    expect(ofB.body.totals).toEqual(await ledgerTotals(b.accountId));
    expect(ofB.body.totals.events).toBe(sentByB.length);
  });

  it('asks for the API key', async () => {
    expectError(await h.http.get('/api/billing/usage'), 401, 'MISSING_API_KEY');
  });

  it.each([
    [{ group_by: 'week' }, 'group_by'],
    [{ from: 'last tuesday' }, 'from'],
    [{ from: '2024-05-02', to: '2024-05-01' }, 'from'],
    [{ format: 'csv' }, 'format'],
  ])('refuses %j with a 400 naming the parameter', async (query, field) => {
    expectError(await usage(a, query), 400, 'INVALID_REQUEST', field);
  });

  it('refuses a parameter given twice', async () => {
    expectError(await h.http.get(`/api/billing/usage?group_by=day&group_by=event`).set(a.auth), 400, 'INVALID_REQUEST', 'group_by');
  });

  it('answers 429 with Retry-After once the account is over its rate limit, and spares other accounts', async () => {
    const limited = await h.seedAccount({ credits: 0 });
    await h.accounts.updateAccount(limited.accountId, { rateLimitPerMinute: 2 });
    const [first, second] = [await usage(limited, {}), await usage(limited, {})];
    expect([first.status, second.status]).toEqual([200, 200]);
    expect([first.headers['ratelimit-limit'], first.headers['ratelimit-remaining']]).toEqual(['2', '1']);

    const third = await usage(limited, {});
    expectError(third, 429, 'RATE_LIMITED');
    const retryAfter = Number(third.headers['retry-after']);
    expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60).toBe(true);
    expect(third.headers['ratelimit-remaining']).toBe('0');
    // The webhook counts against the same budget: one account, one limit.
    expectError(await h.http.post('/api/webhook/').set(limited.auth).send({ employee_id: limited.employeeId, payload: 'x' }), 429, 'RATE_LIMITED');

    expect((await usage(b, {})).status).toBe(200);
  });
});

describe('the billing and credits CLI', () => {
  it('prints the same report as JSON, CSV and an aligned table', async () => {
    const args = ['billing', 'report', '--account', a.accountId, '--from', from, '--to', to, '--group-by', 'event'];
    const [asJson, asCsv, asTable] = await Promise.all([runCli([...args, '--format', 'json']), runCli([...args, '--format', 'csv']), runCli(args)]);
    const expected = await billingReport(h.usage, a.accountId, params('event'));
    expect(asJson.code).toBe(0);
    expect(asJson.json).toEqual(expected);

    const lines = asCsv.stdout.split('\r\n');
    expect(lines[0]).toBe('event,events,credits,token_credits,runtime_credits,tokens_in,tokens_out,runtime_ms,model_turns,tool_calls');
    expect(lines.slice(1, -1).map((l) => l.split(','))).toEqual(
      expected.rows.map((r) =>
        [r.group, r.events, r.credits, r.token_credits, r.runtime_credits, r.tokens_in, r.tokens_out, r.runtime_ms, r.model_turns, r.tool_calls].map(String),
      ),
    );
    expect(lines[lines.length - 1]).toBe('');

    const total = asTable.stdout.split('\n').find((l) => l.includes(' total '))!;
    expect(total.split('│').map((c) => c.trim())).toContain(expected.totals.credits.toLocaleString('en-US'));
  });

  it('shows the balance and reserved credits that the report and the ledger agree with', async () => {
    const shown = await runCli(['credits', 'show', '--account', a.accountId, '--json']);
    const report = await billingReport(h.usage, a.accountId, params('day'));
    expect(shown.json).toEqual({ account_id: a.accountId, balance: 5000 - report.totals.credits, reserved: 0 });
  });

  it('verifies the ledger, and exits 1 naming the problem once a counter no longer matches it', async () => {
    const ok = await runCli(['credits', 'verify', '--account', a.accountId]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/OK/);

    const acct = await h.seedAccount({ credits: 40 });
    // Only a counter can drift: the postings themselves are append-only.
    await h.db.query('UPDATE credit_balances SET balance = balance + 5 WHERE account_id = $1', [acct.accountId]);
    const bad = await runCli(['credits', 'verify', '--account', acct.accountId, '--json']);
    expect(bad.code).toBe(1);
    expect(bad.json).toMatchObject({ ok: false, balance: { counter: 45, ledger: 40 }, problems: ['balance is 45 but the postings sum to 40'] });
  });

  it('refuses a bad period with exit code 2', async () => {
    const res = await runCli(['billing', 'report', '--account', a.accountId, '--from', 'soon', '--json']);
    expect(res.code).toBe(2);
    expect(res.json.error.code).toBe('INVALID_ARGUMENT');
  });
});
