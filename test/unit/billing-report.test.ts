import { buildReport, ReportParams, type BillingReport } from '../../src/billing/report';
import { reportCsv, reportTable } from '../../src/billing/report-format';
import { verifySnapshot } from '../../src/billing/verify';
import type { LedgerSnapshot, Posting } from '../../src/stores/ledger';

const charge = (over: Partial<Posting> & { at: string; credits: number }): Posting => ({
  id: `p-${Math.random()}`,
  kind: 'charge',
  messageId: `m-${Math.random()}`,
  employeeId: 'emp-a',
  event: 'order.completed',
  tokensIn: 0,
  tokensOut: 0,
  runtimeMs: 100,
  tokenCredits: 0,
  runtimeCredits: -over.credits,
  ...over,
});

const postings: Posting[] = [
  { id: 't', kind: 'topup', at: '2024-05-01T00:00:00Z', credits: 1000 },
  { id: 'r', kind: 'reserve', at: '2024-05-01T09:00:00Z', credits: 0, reserved: 10, messageId: 'm1' },
  charge({ at: '2024-05-01T09:00:01Z', credits: -7, messageId: 'm1', tokensIn: 1500, tokensOut: 600, tokenCredits: 5, runtimeCredits: 2, runtimeMs: 1800 }),
  { id: 'x', kind: 'release', at: '2024-05-01T09:00:01Z', credits: 0, reserved: -10, messageId: 'm1' },
  charge({ at: '2024-05-01T23:59:59.999Z', credits: -1, messageId: 'm2', employeeId: 'emp-b', event: undefined }),
  charge({ at: '2024-05-02T00:00:00Z', credits: -3, messageId: 'm3', employeeId: 'emp-b', event: 'deploy' }),
  charge({ at: '2024-05-03T12:00:00Z', credits: -50, messageId: 'm4' }),
];

const report = (query: Record<string, string>): BillingReport => buildReport('acct', postings, ReportParams.parse(query));

describe('billing report', () => {
  it('groups the charges of [from, to) by day, in order, with totals summed from the postings', () => {
    const r = report({ from: '2024-05-01', to: '2024-05-03', group_by: 'day' });
    expect(r).toMatchObject({ account_id: 'acct', from: '2024-05-01T00:00:00.000Z', to: '2024-05-03T00:00:00.000Z', group_by: 'day' });
    expect(r.rows.map((row) => [row.group, row.events, row.credits])).toEqual([
      ['2024-05-01', 2, 8],
      ['2024-05-02', 1, 3],
    ]);
    expect(r.totals).toEqual({ events: 3, credits: 11, token_credits: 5, runtime_credits: 6, tokens_in: 1500, tokens_out: 600, runtime_ms: 2000 });
  });

  it('groups by employee and by event, largest first, with unlabelled events together', () => {
    const byEmployee = report({ from: '2024-05-01', to: '2024-05-04', group_by: 'employee' });
    expect(byEmployee.rows.map((row) => [row.group, row.credits])).toEqual([
      ['emp-a', 57],
      ['emp-b', 4],
    ]);
    const byEvent = report({ from: '2024-05-01', to: '2024-05-04', group_by: 'event' });
    expect(byEvent.rows.map((row) => [row.group, row.credits])).toEqual([
      ['order.completed', 57],
      ['deploy', 3],
      ['(none)', 1],
    ]);
  });

  it('lists messages in time order, one row each', () => {
    const r = report({ from: '2024-05-01T09:00:00Z', to: '2024-05-02T00:00:00.001Z', group_by: 'message' });
    expect(r.rows.map((row) => row.group)).toEqual(['m1', 'm2', 'm3']);
  });

  it('has the same totals whatever it is grouped by', () => {
    const totals = (['employee', 'event', 'day', 'message'] as const).map((g) => report({ from: '2024-04-01', to: '2024-06-01', group_by: g }).totals);
    for (const t of totals) expect(t).toEqual(totals[0]);
    expect(totals[0].credits).toBe(61);
  });

  it('defaults to the 30 days before now, grouped by employee', () => {
    const parsed = ReportParams.parse({});
    expect(parsed.groupBy).toBe('employee');
    expect(parsed.to.getTime() - parsed.from.getTime()).toBe(30 * 24 * 3600 * 1000);
    expect(Math.abs(parsed.to.getTime() - Date.now())).toBeLessThan(5_000);
  });

  it.each([
    [{ from: 'yesterday' }, 'from'],
    [{ to: '2024-02-30' }, 'to'],
    [{ from: '2024-05-01T10:00:00' }, 'from'],
    [{ group_by: 'week' }, 'group_by'],
    [{ from: '2024-05-02', to: '2024-05-01' }, 'from'],
    [{ from: '2024-05-01', to: '2024-05-01' }, 'from'],
  ])('refuses %j, naming %s', (query, field) => {
    const parsed = ReportParams.safeParse(query);
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues[0].path[0]).toBe(field);
  });
});

describe('report formats', () => {
  const r = report({ from: '2024-05-01', to: '2024-05-04', group_by: 'event' });

  it('writes CSV with a header row, CRLF line ends, quoting, and no formula cells', () => {
    const odd = { ...r, rows: [{ ...r.rows[0], group: 'a,"b"' }, { ...r.rows[1], group: '-1+2' }] };
    expect(reportCsv(odd)).toBe(
      'event,events,credits,token_credits,runtime_credits,tokens_in,tokens_out,runtime_ms\r\n' +
        '"a,""b""",2,57,5,52,1500,600,1900\r\n' +
        "'-1+2,1,3,0,3,0,0,100\r\n",
    );
  });

  it('draws an aligned table with numbers flush right and a totals row', () => {
    const lines = reportTable(r).split('\n');
    expect(lines[0]).toContain('2024-05-01T00:00:00.000Z');
    const body = lines.filter((l) => l.startsWith('│'));
    expect(new Set(body.map((l) => l.length)).size).toBe(1);
    const cells = (l: string) => l.split('│').slice(1, -1);
    const credits = body.map((l) => cells(l)[2]);
    expect(credits.slice(1).every((c) => c.endsWith(' ') && !c.endsWith('  '))).toBe(true);
    expect(cells(body[body.length - 1]).map((c) => c.trim())).toEqual(['total', '4', '61', '5', '56', '1,500', '600', '2,100']);
  });
});

describe('verifySnapshot', () => {
  const snapshot = (over: Partial<LedgerSnapshot> = {}): LedgerSnapshot => ({ balance: 939, reserved: 0, postings, open: [], ...over });

  it('passes a ledger whose counters equal the sums of its postings', () => {
    expect(verifySnapshot('acct', snapshot())).toEqual({
      account_id: 'acct',
      ok: true,
      balance: { counter: 939, ledger: 939 },
      reserved: { counter: 0, ledger: 0 },
      postings: postings.length,
      open_reservations: 0,
      problems: [],
    });
  });

  it('reports a balance or reserved counter that drifted, a double charge and an open reservation left behind', () => {
    const twice = [...postings, { ...postings[2], id: 'again' }];
    expect(verifySnapshot('acct', snapshot({ balance: 940 })).problems).toEqual(['balance is 940 but the postings sum to 939']);
    expect(verifySnapshot('acct', snapshot({ reserved: 10 })).problems).toEqual(['reserved is 10 but the postings sum to 0']);
    expect(verifySnapshot('acct', snapshot({ postings: twice, balance: 932 })).problems).toEqual(['message m1 has 2 charge postings']);
    expect(verifySnapshot('acct', snapshot({ open: [{ messageId: 'm1', since: 0 }] })).problems).toEqual(['message m1 is released but still in the open reservations']);
  });
});
