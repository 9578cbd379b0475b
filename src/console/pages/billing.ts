import type { BillingReport, ReportRow } from '../../billing/report';
import type { ConsoleSession } from '../../stores/console-sessions';
import type { TopUp } from '../../stores/top-ups';
import { creditsChart, daysOf } from '../chart';
import { html, type Html } from '../html';
import { page, scrollTable, when } from '../layout';

export interface BillingView {
  balance: number;
  reserved: number;
  topUps: TopUp[];
  byDay: BillingReport;
  byEmployee: BillingReport;
  byEvent: BillingReport;
  employeeNames: Map<string, string>;
  /** The range as the form shows it (UTC dates). */
  fromDate: string;
  toDate: string;
}

function usageTable(label: string, first: string, rows: ReportRow[], name: (group: string) => string): Html {
  if (rows.length === 0) return html`<p class="muted">No charges in this range.</p>`;
  return scrollTable(
    label,
    html`<table>
      <thead>
        <tr>
          <th scope="col">${first}</th>
          <th scope="col" class="num">Events</th>
          <th scope="col" class="num">Credits</th>
          <th scope="col" class="num">Token credits</th>
          <th scope="col" class="num">Runtime credits</th>
        </tr>
      </thead>
      <tbody>
        ${rows.map(
          (r) =>
            html`<tr>
              <td>${name(r.group)}</td>
              <td class="num">${r.events}</td>
              <td class="num">${r.credits}</td>
              <td class="num">${r.token_credits}</td>
              <td class="num">${r.runtime_credits}</td>
            </tr>`,
        )}
      </tbody>
    </table>`,
  );
}

export function billingPage(session: ConsoleSession, v: BillingView): Html {
  const range = `from=${v.byDay.from}&to=${v.byDay.to}`;
  const credits = new Map(v.byDay.rows.map((r) => [r.group, r.credits]));
  const topUps =
    v.topUps.length === 0
      ? html`<p class="muted">No top-ups.</p>`
      : scrollTable(
          'Top-ups',
          html`<table>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col" class="num">Credits</th>
                <th scope="col">Reference</th>
              </tr>
            </thead>
            <tbody>
              ${v.topUps.map(
                (t) =>
                  html`<tr>
                    <td>${when(t.at)}</td>
                    <td class="num">${t.credits}</td>
                    <td>${t.reference ?? '—'}</td>
                  </tr>`,
              )}
            </tbody>
          </table>`,
        );
  return page(
    { title: 'Billing', session, section: 'billing' },
    html`<div class="figures">
        <div>${v.balance}<span class="label">balance (credits)</span></div>
        <div>${v.reserved}<span class="label">reserved for running events</span></div>
        <div>${v.balance - v.reserved}<span class="label">available</span></div>
      </div>
      <form method="get" action="/billing" class="row" aria-label="Range">
        <div><label for="b-from">From (UTC date)</label><input id="b-from" name="from" type="date" value="${v.fromDate}" /></div>
        <div><label for="b-to">To (UTC date, exclusive)</label><input id="b-to" name="to" type="date" value="${v.toDate}" /></div>
        <div><button type="submit">Show</button></div>
      </form>
      <h2>Credits per day</h2>
      <p class="muted">${v.byDay.totals.credits} credits over ${v.byDay.totals.events} events, ${when(v.byDay.from)} to ${when(v.byDay.to)}.</p>
      ${creditsChart(daysOf(new Date(v.byDay.from), new Date(v.byDay.to)), credits)}
      <p>
        <a href="/billing/usage.csv?${range}&group_by=employee">Download CSV by employee</a> ·
        <a href="/billing/usage.csv?${range}&group_by=event">Download CSV by event label</a> ·
        <a href="/billing/usage.csv?${range}&group_by=day">Download CSV by day</a> ·
        <a href="/billing/usage.csv?${range}&group_by=message">Download CSV by event</a>
      </p>
      <h2>By employee</h2>
      ${usageTable('Usage by employee', 'Employee', v.byEmployee.rows, (g) => v.employeeNames.get(g) ?? g)}
      <h2>By event label</h2>
      ${usageTable('Usage by event label', 'Label', v.byEvent.rows, (g) => g)}
      <h2>Top-ups</h2>
      ${topUps}`,
  );
}
