import Table from 'cli-table3';
import type { BillingReport, ReportTotals } from './report';

const NUMBER_COLUMNS: Array<{ head: string; csv: keyof ReportTotals; cell: (r: ReportTotals) => string }> = [
  { head: 'events', csv: 'events', cell: (r) => thousands(r.events) },
  { head: 'credits', csv: 'credits', cell: (r) => thousands(r.credits) },
  { head: 'token cr.', csv: 'token_credits', cell: (r) => thousands(r.token_credits) },
  { head: 'runtime cr.', csv: 'runtime_credits', cell: (r) => thousands(r.runtime_credits) },
  { head: 'tokens in', csv: 'tokens_in', cell: (r) => thousands(r.tokens_in) },
  { head: 'tokens out', csv: 'tokens_out', cell: (r) => thousands(r.tokens_out) },
  { head: 'runtime ms', csv: 'runtime_ms', cell: (r) => thousands(r.runtime_ms) },
  { head: 'turns', csv: 'model_turns', cell: (r) => thousands(r.model_turns) },
  { head: 'tool calls', csv: 'tool_calls', cell: (r) => thousands(r.tool_calls) },
];

/**
 * The report for a terminal: a title line with the period, then one aligned table with numbers
 * right-aligned and a totals row under a rule. No colours, so piped output carries no escape codes.
 */
export function reportTable(report: BillingReport): string {
  const table = new Table({
    head: [report.group_by, ...NUMBER_COLUMNS.map((c) => c.head)],
    colAligns: ['left', ...NUMBER_COLUMNS.map(() => 'right' as const)],
    style: { head: [], border: [] },
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  });
  const line = (label: string, r: ReportTotals) => [label, ...NUMBER_COLUMNS.map((c) => c.cell(r))];
  const rows = report.rows.map((r) => line(r.group, r));
  const total = line('total', report.totals);
  const head = [report.group_by, ...NUMBER_COLUMNS.map((c) => c.head)];
  // The rows themselves have no rules (long reports stay dense); one rule sets the totals apart.
  const widths = head.map((h, i) => Math.max(h.length, total[i].length, ...rows.map((r) => r[i].length)));
  table.push(...rows);
  if (rows.length > 0) table.push(widths.map((w) => '─'.repeat(w)));
  table.push(total);
  const title = `Account ${report.account_id}: charges from ${report.from} to ${report.to} (exclusive), by ${report.group_by}`;
  const empty = report.rows.length === 0 ? '\nNo charges in this period.' : '';
  return `${title}\n${table.toString()}${empty}`;
}

/**
 * The report for a spreadsheet: RFC 4180 (CRLF, a header row, fields quoted when they hold a comma,
 * quote or line break), plain numbers. Only the group rows: a totals row
 * would be counted twice by the spreadsheet's own SUM. A group that a spreadsheet would read as a
 * formula (starting with = + - @) is prefixed with an apostrophe.
 */
export function reportCsv(report: BillingReport): string {
  const header = [report.group_by, ...NUMBER_COLUMNS.map((c) => c.csv)];
  const rows = report.rows.map((r) => [csvText(r.group), ...NUMBER_COLUMNS.map((c) => String(r[c.csv]))]);
  return [header, ...rows].map((fields) => fields.map(csvField).join(',')).join('\r\n') + '\r\n';
}

function csvText(value: string): string {
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

function thousands(n: number): string {
  return n.toLocaleString('en-US');
}
