import { assembleReport, ReportParams, type BillingReport } from '../../src/billing/report';
import { reportCsv, reportTable } from '../../src/billing/report-format';
import { verifyAudit } from '../../src/billing/verify';
import type { LedgerAudit } from '../../src/stores/ledger';
import type { UsageRow } from '../../src/stores/usage';

/** A group's sums as UsageStore returns them; only credits and runtime unless given. */
const usage = (group: string, over: Partial<Omit<UsageRow, 'first_at'>> & { credits: number; first_at: string }): UsageRow => ({
  group,
  events: 1,
  token_credits: 0,
  runtime_credits: over.credits,
  tokens_in: 0,
  tokens_out: 0,
  runtime_ms: 100,
  model_turns: 0,
  tool_calls: 0,
  ...over,
  first_at: new Date(over.first_at),
});

/**
 * Four charges, as the database sums them per group: m1 09:00:01 on 05-01 (emp-a, order.completed,
 * 7 credits: 5 for tokens, 2 for runtime), m2 23:59:59.999 on 05-01 (emp-b, unlabelled, 1), m3
 * midnight 05-02 (emp-b, deploy, 3), m4 noon 05-03 (emp-a, order.completed, 50). Only m1 took model
 * turns (3) and tool calls (2). Rows come in no particular order, like GROUP BY's.
 */
const m1 = { credits: 7, tokens_in: 1500, tokens_out: 600, token_credits: 5, runtime_credits: 2, runtime_ms: 1800, model_turns: 3, tool_calls: 2 };
const withM1 = { token_credits: 5, tokens_in: 1500, tokens_out: 600, runtime_ms: 1900, model_turns: 3, tool_calls: 2 };
const BY = {
  day: [
    usage('2024-05-02', { credits: 3, first_at: '2024-05-02T00:00:00Z' }),
    usage('2024-05-01', { ...withM1, events: 2, credits: 8, runtime_credits: 3, first_at: '2024-05-01T09:00:01Z' }),
  ],
  employee: [
    usage('emp-b', { events: 2, credits: 4, runtime_ms: 200, first_at: '2024-05-01T23:59:59.999Z' }),
    usage('emp-a', { ...withM1, events: 2, credits: 57, runtime_credits: 52, first_at: '2024-05-01T09:00:01Z' }),
  ],
  event: [
    usage('', { credits: 1, first_at: '2024-05-01T23:59:59.999Z' }),
    usage('deploy', { credits: 3, first_at: '2024-05-02T00:00:00Z' }),
    usage('order.completed', { ...withM1, events: 2, credits: 57, runtime_credits: 52, first_at: '2024-05-01T09:00:01Z' }),
  ],
  message: [
    usage('m3', { credits: 3, first_at: '2024-05-02T00:00:00Z' }),
    usage('m1', { ...m1, first_at: '2024-05-01T09:00:01Z' }),
    usage('m2', { credits: 1, first_at: '2024-05-01T23:59:59.999Z' }),
  ],
};

const report = (query: Record<string, string>, rows: UsageRow[]): BillingReport => assembleReport('acct', ReportParams.parse(query), rows);

describe('assembleReport', () => {
  it('lists days in order, keeps each group’s sums, and totals every field', () => {
    const r = report({ from: '2024-05-01', to: '2024-05-03', group_by: 'day' }, BY.day);
    expect(r).toMatchObject({ account_id: 'acct', from: '2024-05-01T00:00:00.000Z', to: '2024-05-03T00:00:00.000Z', group_by: 'day' });
    expect(r.rows).toEqual([
      {
        group: '2024-05-01',
        events: 2,
        credits: 8,
        token_credits: 5,
        runtime_credits: 3,
        tokens_in: 1500,
        tokens_out: 600,
        runtime_ms: 1900,
        model_turns: 3,
        tool_calls: 2,
      },
      {
        group: '2024-05-02',
        events: 1,
        credits: 3,
        token_credits: 0,
        runtime_credits: 3,
        tokens_in: 0,
        tokens_out: 0,
        runtime_ms: 100,
        model_turns: 0,
        tool_calls: 0,
      },
    ]);
    expect(r.totals).toEqual({
      events: 3,
      credits: 11,
      token_credits: 5,
      runtime_credits: 6,
      tokens_in: 1500,
      tokens_out: 600,
      runtime_ms: 2000,
      model_turns: 3,
      tool_calls: 2,
    });
  });

  it('orders employees and events by credits, largest first, and names unlabelled events (none)', () => {
    const byEmployee = report({ from: '2024-05-01', to: '2024-05-04', group_by: 'employee' }, BY.employee);
    expect(byEmployee.rows.map((row) => [row.group, row.credits])).toEqual([
      ['emp-a', 57],
      ['emp-b', 4],
    ]);
    const byEvent = report({ from: '2024-05-01', to: '2024-05-04', group_by: 'event' }, BY.event);
    expect(byEvent.rows.map((row) => [row.group, row.credits])).toEqual([
      ['order.completed', 57],
      ['deploy', 3],
      ['(none)', 1],
    ]);
  });

  it('breaks a tie in credits by the group, the same way on every host', () => {
    const tied = [
      usage('emp-c', { credits: 5, first_at: '2024-05-01T10:00:00Z' }),
      usage('emp-B', { credits: 5, first_at: '2024-05-01T11:00:00Z' }),
      usage('emp-a', { credits: 5, first_at: '2024-05-01T12:00:00Z' }),
    ];
    expect(report({ from: '2024-05-01', to: '2024-05-02', group_by: 'employee' }, tied).rows.map((row) => row.group)).toEqual(['emp-B', 'emp-a', 'emp-c']);
  });

  it('lists messages in the time order of their charges, one row each, ties by id', () => {
    const r = report({ from: '2024-05-01T09:00:00Z', to: '2024-05-02T00:00:00.001Z', group_by: 'message' }, BY.message);
    expect(r.rows.map((row) => row.group)).toEqual(['m1', 'm2', 'm3']);
    const sameMs = [usage('m-b', { credits: 1, first_at: '2024-05-01T09:00:00Z' }), usage('m-a', { credits: 1, first_at: '2024-05-01T09:00:00Z' })];
    expect(report({ from: '2024-05-01', to: '2024-05-02', group_by: 'message' }, sameMs).rows.map((row) => row.group)).toEqual(['m-a', 'm-b']);
  });

  it('has the same totals whatever the same charges are grouped by', () => {
    const totals = (['employee', 'event', 'day', 'message'] as const).map(
      (g) =>
        report(
          { from: '2024-04-01', to: '2024-06-01', group_by: g },
          g === 'day'
            ? [...BY.day, usage('2024-05-03', { credits: 50, first_at: '2024-05-03T12:00:00Z' })]
            : g === 'message'
              ? [...BY.message, usage('m4', { credits: 50, first_at: '2024-05-03T12:00:00Z' })]
              : BY[g],
        ).totals,
    );
    for (const t of totals) expect(t).toEqual(totals[0]);
    expect(totals[0]).toEqual({
      events: 4,
      credits: 61,
      token_credits: 5,
      runtime_credits: 56,
      tokens_in: 1500,
      tokens_out: 600,
      runtime_ms: 2100,
      model_turns: 3,
      tool_calls: 2,
    });
  });

  it('answers a period without charges with no rows and zero totals', () => {
    const r = report({ from: '2024-05-01', to: '2024-05-02' }, []);
    expect(r).toEqual({
      account_id: 'acct',
      from: '2024-05-01T00:00:00.000Z',
      to: '2024-05-02T00:00:00.000Z',
      group_by: 'employee',
      rows: [],
      totals: { events: 0, credits: 0, token_credits: 0, runtime_credits: 0, tokens_in: 0, tokens_out: 0, runtime_ms: 0, model_turns: 0, tool_calls: 0 },
    });
  });
});

describe('report parameters', () => {
  it('default to the 30 days before now, grouped by employee', () => {
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
  ])('refuse %j, naming %s', (query, field) => {
    const parsed = ReportParams.safeParse(query);
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues[0].path[0]).toBe(field);
  });
});

describe('report formats', () => {
  const r = report({ from: '2024-05-01', to: '2024-05-04', group_by: 'event' }, BY.event);

  it('writes CSV with a header row, CRLF line ends, quoting, and no formula cells', () => {
    const odd = {
      ...r,
      rows: [
        { ...r.rows[0], group: 'a,"b"' },
        { ...r.rows[1], group: '-1+2' },
      ],
    };
    expect(reportCsv(odd)).toBe(
      'event,events,credits,token_credits,runtime_credits,tokens_in,tokens_out,runtime_ms,model_turns,tool_calls\r\n' +
        '"a,""b""",2,57,5,52,1500,600,1900,3,2\r\n' +
        "'-1+2,1,3,0,3,0,0,100,0,0\r\n",
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
    expect(cells(body[body.length - 1]).map((c) => c.trim())).toEqual(['total', '4', '61', '5', '56', '1,500', '600', '2,100', '3', '2']);
  });
});

describe('verifyAudit', () => {
  /** The database's audit of a ledger that adds up: 1,000 topped up, 61 charged, nothing held. */
  const audit = (over: Partial<LedgerAudit> = {}): LedgerAudit => ({
    balance: 939,
    reserved: 0,
    ledgerBalance: 939,
    ledgerReserved: 0,
    postings: 7,
    openReservations: 0,
    rollupCredits: 61,
    dailyRollupCredits: 61,
    chargedCredits: 61,
    duplicated: [],
    reservationMismatches: [],
    ...over,
  });

  it('passes a ledger whose counters equal the sums of its postings', () => {
    expect(verifyAudit('acct', audit())).toEqual({
      account_id: 'acct',
      ok: true,
      balance: { counter: 939, ledger: 939 },
      reserved: { counter: 0, ledger: 0 },
      postings: 7,
      open_reservations: 0,
      problems: [],
    });
  });

  it('reports a drifted counter, a double posting, a reservation mismatch and a rollup that lost a charge', () => {
    const problems = (over: Partial<LedgerAudit>) => verifyAudit('acct', audit(over)).problems;
    expect(problems({ balance: 940 })).toEqual(['balance is 940 but the postings sum to 939']);
    expect(problems({ reserved: 10 })).toEqual(['reserved is 10 but the postings sum to 0']);
    expect(problems({ reserved: -10, ledgerReserved: -10 })).toEqual(['reserved is negative (-10)']);
    expect(problems({ duplicated: [{ messageId: 'm1', kind: 'charge', count: 2 }] })).toEqual(['message m1 has 2 charge postings']);
    expect(problems({ reservationMismatches: [{ messageId: 'm1', problem: 'released but still in the open reservations' }] })).toEqual([
      'message m1: released but still in the open reservations',
    ]);
    expect(problems({ rollupCredits: 54 })).toEqual(['the usage rollup holds 54 charged credits but the charge postings sum to 61']);
    expect(problems({ dailyRollupCredits: 60 })).toEqual(['the daily usage rollup holds 60 charged credits but the charge postings sum to 61']);
    expect(verifyAudit('acct', audit({ balance: 940 })).ok).toBe(false);
  });
});
