import type { EventStatusView } from '../../events/event-status';
import type { ConsoleSession } from '../../stores/console-sessions';
import type { Employee } from '../../stores/employees';
import { EVENT_STATUSES, isRunning, type EventListItem } from '../data';
import { html, type Html } from '../html';
import { page, scrollTable, when } from '../layout';

export interface EventFilterForm {
  employee?: string;
  label?: string;
  status?: string;
  from?: string;
  to?: string;
}

const statusCell = (status: string) => html`<span class="status status-${status}">${status}</span>`;

/** One row; a running event's row replaces itself every 2 s (htmx) until it settles. */
export function eventRow(item: EventListItem, employeeName: string): Html {
  const poll = isRunning(item.status) ? html` hx-get="/events/${item.messageId}/row" hx-trigger="every 2s" hx-swap="outerHTML"` : '';
  return html`<tr id="event-${item.messageId}" ${poll}>
    <td>
      <a href="/events/${item.messageId}"><code>${item.messageId}</code></a>
    </td>
    <td>${employeeName}</td>
    <td>${item.event ?? '—'}</td>
    <td>${statusCell(item.status)}</td>
    <td class="num">${item.credits ?? '—'}</td>
    <td>${when(item.receivedAt)}</td>
  </tr>`;
}

function filters(employees: Employee[], f: EventFilterForm): Html {
  return html`<form method="get" action="/events" class="row" aria-label="Filter events">
    <div>
      <label for="f-employee">Employee</label
      ><select id="f-employee" name="employee">
        <option value="">Any</option>
        ${employees.map((e) => html`<option value="${e.id}" ${f.employee === e.id ? html` selected` : ''}>${e.name}</option>`)}
      </select>
    </div>
    <div><label for="f-label">Label</label><input id="f-label" name="label" type="text" value="${f.label ?? ''}" /></div>
    <div>
      <label for="f-status">Status</label
      ><select id="f-status" name="status">
        <option value="">Any</option>
        ${EVENT_STATUSES.map((s) => html`<option value="${s}" ${f.status === s ? html` selected` : ''}>${s}</option>`)}
      </select>
    </div>
    <div><label for="f-from">From (UTC date)</label><input id="f-from" name="from" type="date" value="${f.from ?? ''}" /></div>
    <div><label for="f-to">To (UTC date, exclusive)</label><input id="f-to" name="to" type="date" value="${f.to ?? ''}" /></div>
    <div><button type="submit">Filter</button></div>
  </form>`;
}

export function eventsPage(session: ConsoleSession, items: EventListItem[], employees: Employee[], f: EventFilterForm): Html {
  const names = new Map(employees.map((e) => [e.id, e.name]));
  const table =
    items.length === 0
      ? html`<p class="muted">No events match.</p>`
      : scrollTable(
          'Events',
          html`<table>
            <thead>
              <tr>
                <th scope="col">message_id</th>
                <th scope="col">Employee</th>
                <th scope="col">Label</th>
                <th scope="col">Status</th>
                <th scope="col" class="num">Credits</th>
                <th scope="col">Received</th>
              </tr>
            </thead>
            <tbody>
              ${items.map((i) => eventRow(i, names.get(i.employeeId) ?? i.employeeId))}
            </tbody>
          </table>`,
        );
  return page(
    { title: 'Events', session, section: 'events' },
    html`${filters(employees, f)}
      <p class="muted">Newest first; up to 50.</p>
      ${table}`,
  );
}

/** The detail's live part: status, credits, steps and error; polls every 2 s while the event runs. */
export function eventStatusPanel(view: EventStatusView): Html {
  const poll = isRunning(view.status) ? html` hx-get="/events/${view.message_id}/panel" hx-trigger="every 2s" hx-swap="outerHTML"` : '';
  const steps =
    view.steps.length === 0
      ? html`<p class="muted">No steps recorded.</p>`
      : scrollTable(
          'Steps',
          html`<table>
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">Kind</th>
                <th scope="col">Name</th>
                <th scope="col">Status</th>
                <th scope="col" class="num">Duration (ms)</th>
              </tr>
            </thead>
            <tbody>
              ${view.steps.map(
                (s, i) =>
                  html`<tr>
                    <td>${i + 1}</td>
                    <td>${s.kind === 'model' ? 'model turn' : 'tool call'}</td>
                    <td>${s.name}</td>
                    <td>${statusCell(s.status)}</td>
                    <td class="num">${s.duration_ms}</td>
                  </tr>`,
              )}
            </tbody>
          </table>`,
        );
  return html`<div id="event-panel" ${poll}>
    <div class="figures">
      <div>${statusCell(view.status)}<span class="label">status</span></div>
      <div>${view.credits ?? '—'}<span class="label">credits</span></div>
      <div>${view.attempts}<span class="label">attempts</span></div>
    </div>
    ${view.error ? html`<p class="error" role="alert">Error${view.error.type ? html` <code>${view.error.type}</code>` : ''}: ${view.error.message}</p>` : ''}
    <h2>Steps</h2>
    ${steps}
  </div>`;
}

export function eventPage(session: ConsoleSession, view: EventStatusView, employeeName: string): Html {
  return page(
    { title: 'Event', session, section: 'events' },
    html`<table>
        <tbody>
          <tr>
            <th scope="row">message_id</th>
            <td><code>${view.message_id}</code></td>
          </tr>
          <tr>
            <th scope="row">Employee</th>
            <td><a href="/employees/${view.employee_id}">${employeeName}</a></td>
          </tr>
          <tr>
            <th scope="row">Label</th>
            <td>${view.event ?? '—'}</td>
          </tr>
          <tr>
            <th scope="row">Received</th>
            <td>${when(view.received_at)}</td>
          </tr>
          <tr>
            <th scope="row">Completed</th>
            <td>${when(view.completed_at)}</td>
          </tr>
        </tbody>
      </table>
      ${eventStatusPanel(view)}
      <p>
        ${view.trace_url ? html`<a href="${view.trace_url}">Trace in the Temporal UI</a>` : html`<span class="muted">The trace has expired with the workflow history.</span>`}
      </p>`,
  );
}
