import { billingReport, ReportParams, type BillingReport } from '../../src/billing/report';
import { keys } from '../../src/stores/keys';
import type { Posting } from '../../src/stores/ledger';
import { expectError } from '../helpers/error-body';
import { startFakeModelServer, type FakeModelServer } from '../helpers/fake-model-server';
import { createHarness, eventually, type Harness, type Seeded } from '../helpers/harness';
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
  await eventually('the burst settled', async () => ((await Promise.all(ids.map((id) => h.ledger.chargeFor(acct.accountId, id)))).every(Boolean) ? true : undefined), 60_000);
  return ids;
}

beforeAll(async () => {
  fake = await startFakeModelServer();
  h = await createHarness({
    OPENAI_BASE_URL: fake.baseURL,
    OPENAI_MODEL: 'test-model',
    MODEL_PRICES: '{"test-model":{"prompt_per_1k":2,"completion_per_1k":5}}',
  });
  from = new Date(Date.now() - 60_000).toISOString();
  [a, b] = await Promise.all([h.seedAccount({ credits: 5000 }), h.seedAccount({ credits: 300 })]);
  const second = await h.accounts.createEmployee({ accountId: a.accountId, name: 'Bea' });
  for (let i = 0; i < 24; i++) fake.enqueue({ kind: 'ok', promptTokens: 300 + 97 * i, completionTokens: 50 + 31 * i });
  sentByA.push(...(await burst(a, [a.employeeId, second.id], 24)));
  sentByB.push(...(await burst(b, [b.employeeId], 5)));
  to = new Date(Date.now() + 60_000).toISOString();
}, 120_000);
afterAll(async () => {
  await h?.close();
  await fake?.close();
});

/** The ledger's own totals for the period, summed straight from the Redis list. */
async function ledgerTotals(accountId: string) {
  const raw = await h.redis.lrange(keys.ledger(accountId), 0, -1);
  const charges = raw.map((r) => JSON.parse(r) as Posting).filter((p) => p.kind === 'charge' && p.at >= from && p.at < to);
  return {
    events: charges.length,
    credits: charges.reduce((s, p) => s - p.credits, 0),
    token_credits: charges.reduce((s, p) => s + p.tokenCredits!, 0),
    runtime_credits: charges.reduce((s, p) => s + p.runtimeCredits!, 0),
    tokens_in: charges.reduce((s, p) => s + p.tokensIn!, 0),
    tokens_out: charges.reduce((s, p) => s + p.tokensOut!, 0),
    runtime_ms: charges.reduce((s, p) => s + p.runtimeMs!, 0),
  };
}

const params = (groupBy: string) => ReportParams.parse({ from, to, group_by: groupBy });

describe('billing report', () => {
  it.each(['employee', 'event', 'day', 'message'])('has the ledger’s totals to the credit when grouped by %s', async (groupBy) => {
    const report = await billingReport(h.ledger, a.accountId, params(groupBy));
    expect(report.totals).toEqual(await ledgerTotals(a.accountId));
    expect(report.totals.events).toBe(sentByA.length);
    const rowSum = report.rows.reduce((s, r) => s + r.credits, 0);
    expect(rowSum).toBe(report.totals.credits);
  });

  it('reconciles with the balance: top-ups minus the charges', async () => {
    const report = await billingReport(h.ledger, a.accountId, params('employee'));
    expect(await h.ledger.balance(a.accountId)).toBe(5000 - report.totals.credits);
    expect(report.rows).toHaveLength(2);
    expect((await billingReport(h.ledger, a.accountId, params('event'))).rows.map((r) => r.group).sort()).toEqual(['(none)', 'deploy.finished', 'order.completed']);
  });
});

describe('GET /api/billing/usage', () => {
  const usage = (acct: Seeded, query: Record<string, string>) => h.http.get('/api/billing/usage').set(acct.auth).query(query);

  it('answers the same JSON as the shared report, with only the key’s account in it', async () => {
    const res = await usage(a, { from, to, group_by: 'message' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(await billingReport(h.ledger, a.accountId, params('message')));
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
    expectError(await usage(a, query as Record<string, string>), 400, 'INVALID_REQUEST', field);
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
    const expected = await billingReport(h.ledger, a.accountId, params('event'));
    expect(asJson.code).toBe(0);
    expect(asJson.json).toEqual(expected);

    const lines = asCsv.stdout.split('\r\n');
    expect(lines[0]).toBe('event,events,credits,token_credits,runtime_credits,tokens_in,tokens_out,runtime_ms');
    expect(lines.slice(1, -1).map((l) => l.split(','))).toEqual(expected.rows.map((r) => [r.group, r.events, r.credits, r.token_credits, r.runtime_credits, r.tokens_in, r.tokens_out, r.runtime_ms].map(String)));
    expect(lines[lines.length - 1]).toBe('');

    const total = asTable.stdout.split('\n').find((l) => l.includes(' total '))!;
    expect(total.split('│').map((c) => c.trim())).toContain(expected.totals.credits.toLocaleString('en-US'));
  });

  it('shows the balance and reserved credits that the report and the ledger agree with', async () => {
    const shown = await runCli(['credits', 'show', '--account', a.accountId, '--json']);
    const report = await billingReport(h.ledger, a.accountId, params('day'));
    expect(shown.json).toEqual({ account_id: a.accountId, balance: 5000 - report.totals.credits, reserved: 0 });
  });

  it('verifies the ledger, and exits 1 naming the problem once a counter no longer matches it', async () => {
    const ok = await runCli(['credits', 'verify', '--account', a.accountId]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/OK/);

    const acct = await h.seedAccount({ credits: 40 });
    await h.redis.incrby(keys.balance(acct.accountId), 5);
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
