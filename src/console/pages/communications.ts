import type { Account } from '../../stores/accounts';
import type { ApiKeyInfo } from '../../stores/api-keys';
import type { ConsoleSession } from '../../stores/console-sessions';
import { html, type Html } from '../html';
import { copyable, csrfField, page, scrollTable, when } from '../layout';

/** The Webhook switch: a form (works without script) that htmx posts and swaps in place. */
export function webhookSwitch(account: Account, session: ConsoleSession): Html {
  const on = account.webhookEnabled;
  return html`<form id="webhook-switch" method="post" action="/settings/communications/webhook" hx-post="/settings/communications/webhook" hx-swap="outerHTML">
    ${csrfField(session)}
    <input type="hidden" name="enabled" value="${on ? 'false' : 'true'}" />
    <button type="submit" class="switch" role="switch" aria-checked="${on ? 'true' : 'false'}"><span class="knob" aria-hidden="true"></span>Webhook</button>
    <span class="muted">${on ? 'On: POST /api/webhook/ accepts events.' : 'Off: POST /api/webhook/ answers 403.'}</span>
  </form>`;
}

function keyRows(keys: ApiKeyInfo[], session: ConsoleSession): Html {
  if (keys.length === 0) return html`<p class="muted">No keys yet.</p>`;
  return scrollTable(
    'Webhook keys',
    html`<table>
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Key</th>
          <th scope="col">Created</th>
          <th scope="col">Last used</th>
          <th scope="col">Status</th>
          <th scope="col"><span class="muted">Action</span></th>
        </tr>
      </thead>
      <tbody>
        ${keys.map(
          (k) =>
            html`<tr>
              <td>${k.name}</td>
              <td><code>${k.prefix}…</code></td>
              <td>${when(k.createdAt)}</td>
              <td>${when(k.lastUsedAt)}</td>
              <td>${k.revokedAt ? html`revoked ${when(k.revokedAt)}` : 'active'}</td>
              <td>
                ${
                  k.revokedAt
                    ? ''
                    : html`<form method="post" action="/settings/communications/keys/${k.id}/revoke">
                        ${csrfField(session)}<button type="submit" class="danger" aria-label="Revoke ${k.name}">Revoke</button>
                      </form>`
                }
              </td>
            </tr>`,
        )}
      </tbody>
    </table>`,
  );
}

/** Settings → Communications: the inbound channels, then the Programmatic group's channel cards. */
export function communicationsPage(opts: { session: ConsoleSession; account: Account; keys: ApiKeyInfo[]; created?: { key: string; name: string } }): Html {
  const { session, account, keys, created } = opts;
  const banner = created
    ? html`<div class="banner" role="status">
        <p>Key “${created.name}” created. Copy it now: It will not be shown again.</p>
        ${copyable('new-key', created.key, 'the new key')}
      </div>`
    : '';
  return page(
    { title: 'Settings · Communications', session, section: 'settings' },
    html`<p><strong>Communications</strong> · <a href="/settings/sources">Sources</a></p>
      <h2>Communications</h2>
      <section aria-labelledby="inbound">
        <h3 id="inbound">Inbound channels</h3>
        ${webhookSwitch(account, session)}
        ${account.emailVerified ? '' : html`<p class="error">Your email is not verified yet: the webhook endpoint answers 403 until it is.</p>`}
      </section>
      <section aria-labelledby="programmatic">
        <h3 id="programmatic">Programmatic</h3>
        <details class="card" open>
          <summary>Webhook</summary>
          ${banner}
          <p>Keys authenticate <code>POST /api/webhook/</code> as <code>Authorization: Bearer &lt;key&gt;</code>.</p>
          ${keyRows(keys, session)}
          <form method="post" action="/settings/communications/keys">
            ${csrfField(session)}
            <label for="key-name">New Key</label>
            <input id="key-name" name="name" type="text" required maxlength="100" placeholder="Name, then Enter" />
            <p><button type="submit">New Key</button></p>
          </form>
        </details>
        <details class="card">
          <summary>API</summary>
          <p class="muted">Coming soon.</p>
        </details>
        <details class="card">
          <summary>MCP</summary>
          <p class="muted">Coming soon.</p>
        </details>
      </section>`,
  );
}
