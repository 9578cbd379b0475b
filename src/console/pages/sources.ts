import type { ConsoleSession } from '../../stores/console-sessions';
import type { Employee } from '../../stores/employees';
import type { Source } from '../../stores/sources';
import { html, type Html } from '../html';
import { copyable, csrfField, page, scrollTable, when } from '../layout';

/** What "Add source" offers: the sender's own kinds, and the generic verifier's presets. */
export const SOURCE_CHOICES = [
  ['github', 'GitHub'],
  ['stripe', 'Stripe'],
  ['standard-webhooks', 'Standard Webhooks (Svix, OpenAI, Clerk, …)'],
  ['shopify', 'Shopify'],
  ['linear', 'Linear'],
  ['zendesk', 'Zendesk'],
] as const;

export interface SourcesView {
  session: ConsoleSession;
  employees: Employee[];
  sources: Array<Source & { url: string }>;
  /** A just-added source: its secret is shown in the answer to that POST only. */
  created?: { name: string; url: string; secret: string };
  error?: string;
}

function sourceRows(view: SourcesView): Html {
  if (view.sources.length === 0) return html`<p class="muted">No sources yet.</p>`;
  const employeeName = new Map(view.employees.map((e) => [e.id, e.name]));
  return scrollTable(
    'Sources',
    html`<table>
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Kind</th>
          <th scope="col">Employee</th>
          <th scope="col">URL</th>
          <th scope="col">Last delivery</th>
          <th scope="col">Status</th>
          <th scope="col"><span class="muted">Action</span></th>
        </tr>
      </thead>
      <tbody>
        ${view.sources.map(
          (s) =>
            html`<tr>
              <td>${s.name}</td>
              <td>${s.kind}</td>
              <td><a href="/employees/${s.employeeId}">${employeeName.get(s.employeeId) ?? s.employeeId}</a></td>
              <td><code class="wrap">${s.url}</code></td>
              <td>${when(s.lastDeliveryAt)}</td>
              <td>${s.enabled ? 'on' : 'off'}</td>
              <td>
                <form method="post" action="/settings/sources/${s.id}/${s.enabled ? 'disable' : 'enable'}">
                  ${csrfField(view.session)}<button type="submit" aria-label="${s.enabled ? 'Disable' : 'Enable'} ${s.name}">
                    ${s.enabled ? 'Disable' : 'Enable'}
                  </button>
                </form>
              </td>
            </tr>`,
        )}
      </tbody>
    </table>`,
  );
}

/**
 * Settings → Sources: systems that sign their own webhooks (GitHub, Stripe, Standard Webhooks
 * senders, Shopify, Linear, Zendesk) wake an employee at a URL of their own. A delivery whose
 * signature fails records nothing, so the page shows the last accepted delivery.
 */
export function sourcesPage(view: SourcesView): Html {
  const { session } = view;
  return page(
    { title: 'Settings · Sources', session, section: 'settings' },
    html`<p><a href="/settings/communications">Communications</a> · <strong>Sources</strong></p>
      <section aria-labelledby="sources-list">
        <h2 id="sources-list">Sources</h2>
        <p>Each source has its own URL and secret; give both to the sender. Its deliveries wake the employee as <code>[Webhook: label] text</code>.</p>
        ${
          view.created
            ? html`<div class="banner" role="status">
                <p>Source “${view.created.name}” added. Its URL and secret: the secret will not be shown again.</p>
                ${copyable('new-source-url', view.created.url, 'the source URL')} ${copyable('new-source-secret', view.created.secret, 'the source secret')}
              </div>`
            : ''
        }
        ${view.error ? html`<p class="error" role="alert">${view.error}</p>` : ''} ${sourceRows(view)}
      </section>
      <section aria-labelledby="new-source">
        <h2 id="new-source">Add source</h2>
        ${
          view.employees.length === 0
            ? html`<p class="muted">Create an employee first.</p>`
            : html`<form method="post" action="/settings/sources" class="row">
                ${csrfField(session)}
                <div><label for="src-name">Name</label><input id="src-name" name="name" type="text" required maxlength="100" /></div>
                <div>
                  <label for="src-kind">Sender</label
                  ><select id="src-kind" name="kind">
                    ${SOURCE_CHOICES.map(([value, label]) => html`<option value="${value}">${label}</option>`)}
                  </select>
                </div>
                <div>
                  <label for="src-employee">Employee</label
                  ><select id="src-employee" name="employee">
                    ${view.employees.map((e) => html`<option value="${e.id}">${e.name}</option>`)}
                  </select>
                </div>
                <div><button type="submit">Add source</button></div>
              </form>`
        }
      </section>`,
  );
}
