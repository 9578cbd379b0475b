import { TOOL_NAMES } from '../../domain/agent';
import type { ConsoleSession } from '../../stores/console-sessions';
import type { Employee } from '../../stores/employees';
import type { InboxEntry } from '../../stores/employee-memory';
import type { Endpoint } from '../../stores/endpoints';
import { html, type Html } from '../html';
import { copyable, csrfField, page, scrollTable, when } from '../layout';

const LIMITS: Array<[keyof Employee['limits'], string]> = [
  ['maxSteps', 'Max model turns per event'],
  ['maxTokens', 'Max tokens per model call'],
  ['deadlineMs', 'Deadline per event (ms)'],
  ['maxCredits', 'Max credits per event'],
  ['maxPromptTokens', 'Prompt budget (tokens)'],
  ['maxToolCallsPerTurn', 'Max tool calls per model turn'],
  ['maxToolCalls', 'Max tool calls per event'],
  ['maxWebhookBytes', 'Max bytes sent by send_webhook per event'],
];

export function employeesPage(session: ConsoleSession, employees: Employee[], error?: string): Html {
  const list =
    employees.length === 0
      ? html`<p class="muted">No employees yet.</p>`
      : scrollTable(
          'Employees',
          html`<table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">ID</th>
                <th scope="col">Tools</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              ${employees.map(
                (e) =>
                  html`<tr>
                    <td><a href="/employees/${e.id}">${e.name}</a></td>
                    <td><code>${e.id}</code></td>
                    <td>${e.tools.join(', ') || '—'}</td>
                    <td>${when(e.createdAt)}</td>
                  </tr>`,
              )}
            </tbody>
          </table>`,
        );
  return page(
    { title: 'Employees', session, section: 'employees' },
    html`${list}
      <section aria-labelledby="new-employee">
        <h2 id="new-employee">New employee</h2>
        ${error ? html`<p class="error" role="alert">${error}</p>` : ''}
        <form method="post" action="/employees">
          ${csrfField(session)}
          <label for="name">Name</label><input id="name" name="name" type="text" required maxlength="100" /> <label for="instructions">Instructions</label
          ><textarea id="instructions" name="instructions" maxlength="20000"></textarea> <label for="model">Model (empty: the service's default)</label
          ><input id="model" name="model" type="text" maxlength="100" />
          <div class="row">
            ${LIMITS.map(([key, label]) => html`<div><label for="${key}">${label}</label><input id="${key}" name="${key}" type="number" min="1" /></div>`)}
          </div>
          <fieldset>
            <legend>Tools</legend>
            ${TOOL_NAMES.map((t) => html`<label><input type="checkbox" name="tools" value="${t}" /> ${t}</label>`)}
            <label><input type="checkbox" name="keepNotes" value="on" checked /> Keep notes between events</label>
          </fieldset>
          <p><button type="submit">Create employee</button></p>
        </form>
      </section>`,
  );
}

/** The seed's Quick Start curl, filled in with this employee and this service's real URL. */
export function curlFor(publicUrl: string, employeeId: string): string {
  const body = JSON.stringify({ employee_id: employeeId, event: 'order.completed', payload: 'Customer John placed order #1234 for $99.' }, null, 2)
    .split('\n')
    .map((line, i) => (i === 0 ? line : `    ${line}`))
    .join('\n');
  return `curl -X POST ${publicUrl}/api/webhook/ \\\n  -H "Authorization: Bearer sk-your-key" \\\n  -H "Content-Type: application/json" \\\n  -d '${body}'`;
}

export interface EmployeeExtras {
  endpoints: Endpoint[];
  /** What `remember` kept, oldest first, with the message it was kept while reading; what the employee received and replied, newest first. */
  notes?: Array<{ note: string; messageId: string }>;
  /** Conversation memory turns the employee is shown with each event. */
  memoryTurns?: number;
  inbox?: InboxEntry[];
  /** A just-added endpoint's signing secret: shown in the answer to that POST only. */
  created?: { name: string; secret: string };
  error?: string;
}

function memorySection(session: ConsoleSession, employee: Employee, extras: EmployeeExtras): Html {
  const notes = extras.notes ?? [];
  const inbox = extras.inbox ?? [];
  const clear = (what: 'notes' | 'memory', label: string) =>
    html`<form method="post" action="/employees/${employee.id}/${what}/clear">${csrfField(session)}<button type="submit">${label}</button></form>`;
  return html`<section aria-labelledby="emp-memory">
    <h2 id="emp-memory">Notes, memory and inbox</h2>
    <p>What the employee keeps is shown to it as data with each event, never as instructions.</p>
    <h3>Notes</h3>
    ${
      notes.length === 0
        ? html`<p class="muted">No notes.</p>`
        : html`<ul>
              ${notes.map(
                (n) =>
                  html`<li class="wrap">
                    ${n.note} <span class="muted">(kept while reading message <code>${n.messageId}</code>)</span>
                  </li>`,
              )}
            </ul>
            ${clear('notes', 'Clear notes')}`
    }
    <h3>Memory</h3>
    <p>${String(extras.memoryTurns ?? 0)} turns of earlier events and answers.</p>
    ${(extras.memoryTurns ?? 0) > 0 ? clear('memory', 'Clear memory') : ''}
    <h3>Inbox</h3>
    ${
      inbox.length === 0
        ? html`<p class="muted">Nothing received yet.</p>`
        : scrollTable(
            'Inbox',
            html`<table>
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Direction</th>
                  <th scope="col">Text</th>
                </tr>
              </thead>
              <tbody>
                ${inbox.map(
                  (m) =>
                    html`<tr>
                      <td>${when(m.at)}</td>
                      <td>${m.direction}</td>
                      <td class="wrap">${m.text}</td>
                    </tr>`,
                )}
              </tbody>
            </table>`,
          )
    }
  </section>`;
}

function endpointsSection(session: ConsoleSession, employee: Employee, extras: EmployeeExtras): Html {
  const list =
    extras.endpoints.length === 0
      ? html`<p class="muted">No outbound endpoints.</p>`
      : scrollTable(
          'Endpoint list',
          html`<table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">URL</th>
                <th scope="col">Per minute</th>
                <th scope="col">Schema</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              ${extras.endpoints.map(
                (e) =>
                  html`<tr>
                    <td>${e.name}</td>
                    <td><code>${e.url}</code></td>
                    <td>${e.perMinute === undefined ? 'default' : String(e.perMinute)}</td>
                    <td>
                      ${
                        e.bodySchema
                          ? html`<details>
                              <summary>JSON Schema</summary>
                              <pre class="wrap">${JSON.stringify(e.bodySchema, null, 2)}</pre>
                            </details>`
                          : 'none'
                      }
                    </td>
                    <td>${when(e.createdAt)}</td>
                  </tr>`,
              )}
            </tbody>
          </table>`,
        );
  return html`<section aria-labelledby="emp-endpoints">
    <h2 id="emp-endpoints">Outbound endpoints</h2>
    <p>Where the <code>send_webhook</code> tool may deliver, by name; each delivery is signed (Standard Webhooks).</p>
    ${
      extras.created
        ? html`<div class="banner" role="status">
            <p>Endpoint “${extras.created.name}” added. Its signing secret: It will not be shown again.</p>
            ${copyable('new-secret', extras.created.secret, 'the signing secret')}
          </div>`
        : ''
    }
    ${extras.error ? html`<p class="error" role="alert">${extras.error}</p>` : ''} ${list}
    <form method="post" action="/employees/${employee.id}/endpoints" class="row">
      ${csrfField(session)}
      <div><label for="ep-name">Endpoint name</label><input id="ep-name" name="name" type="text" required maxlength="64" /></div>
      <div><label for="ep-url">URL</label><input id="ep-url" name="url" type="url" required placeholder="https://" /></div>
      <div><button type="submit">Add endpoint</button></div>
    </form>
  </section>`;
}

export function employeePage(session: ConsoleSession, employee: Employee, publicUrl: string, extras: EmployeeExtras = { endpoints: [] }): Html {
  const limits = LIMITS.map(
    ([key, label]) =>
      html`<tr>
        <th scope="row">${label}</th>
        <td>${employee.limits[key] ?? 'service default'}</td>
      </tr>`,
  );
  return page(
    { title: `Employee ${employee.name}`, session, section: 'employees' },
    html`<section aria-labelledby="emp-id">
        <h2 id="emp-id">ID</h2>
        ${copyable('employee-id', employee.id, 'the employee ID')}
      </section>
      <section aria-labelledby="emp-curl">
        <h2 id="emp-curl">Send it an event</h2>
        <p>Turn the Webhook channel on and create a key under <a href="/settings/communications">Settings → Communications</a>, then:</p>
        <pre id="curl" tabindex="0">${curlFor(publicUrl, employee.id)}</pre>
        <button type="button" data-copy="curl" aria-label="Copy the curl command">Copy</button>
      </section>
      <section aria-labelledby="emp-settings">
        <h2 id="emp-settings">Settings</h2>
        <table>
          <tbody>
            <tr>
              <th scope="row">Model</th>
              <td>${employee.model ?? 'service default'}</td>
            </tr>
            <tr>
              <th scope="row">Tools</th>
              <td>${employee.tools.join(', ') || 'none'}</td>
            </tr>
            <tr>
              <th scope="row">Notes</th>
              <td>${employee.keepNotes ? 'kept' : 'off'}</td>
            </tr>
            ${limits}
          </tbody>
        </table>
        <h3>Instructions</h3>
        <pre class="wrap">${employee.instructions}</pre>
        <p><a href="/events?employee=${employee.id}">Events of this employee</a></p>
      </section>
      ${endpointsSection(session, employee, extras)} ${memorySection(session, employee, extras)}`,
  );
}
