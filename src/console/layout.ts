import type { ConsoleSession } from '../stores/console-sessions';
import { html, type Html, type Part } from './html';

export type Section = 'employees' | 'events' | 'billing' | 'settings';

const NAV: Array<[Section, string, string]> = [
  ['employees', 'Employees', '/employees'],
  ['events', 'Events', '/events'],
  ['billing', 'Billing', '/billing'],
  ['settings', 'Settings', '/settings/communications'],
];

/** The page shell: stylesheet, htmx and the console's script (all from 'self'), the navigation when signed in. */
export function page(opts: { title: string; session?: ConsoleSession; section?: Section }, body: Part): Html {
  const { session } = opts;
  // htmx sends the CSRF token with each of its requests; plain forms carry it as a hidden field.
  const hxHeaders = session ? JSON.stringify({ 'X-CSRF-Token': session.csrfToken }) : undefined;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="htmx-config" content='{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false}'>
<title>${opts.title} · Sistava</title>
<link rel="stylesheet" href="/assets/console.css">
<script src="/assets/htmx.min.js" defer></script>
<script src="/assets/console.js" defer></script>
</head>
<body${hxHeaders ? html` hx-headers="${hxHeaders}"` : ''}>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <a class="brand" href="/">Sistava</a>
  ${
    session
      ? html`<nav aria-label="Console">
            <ul>
              ${NAV.map(([key, label, href]) => html`<li><a href="${href}" ${key === opts.section ? html` aria-current="page"` : ''}>${label}</a></li>`)}
            </ul>
          </nav>
          <form method="post" action="/sign-out" class="signout">
            ${csrfField(session)}
            <span class="who">${session.account.email}</span>
            <button type="submit" class="link">Sign out</button>
            <button type="submit" class="link" name="everywhere" value="true">Sign out everywhere</button>
          </form>`
      : ''
  }
</header>
<main id="main">
<h1>${opts.title}</h1>
${body}
</main>
</body>
</html>`;
}

export function csrfField(session: ConsoleSession): Html {
  return html`<input type="hidden" name="_csrf" value="${session.csrfToken}" />`;
}

/** A value with a Copy button (console.js copies the element named by data-copy). */
export function copyable(id: string, value: string, label: string): Html {
  return html`<div class="copyable"><code id="${id}">${value}</code> <button type="button" data-copy="${id}" aria-label="Copy ${label}">Copy</button></div>`;
}

/** A table that scrolls sideways on a phone; focusable so keyboard users can scroll it too. */
export function scrollTable(label: string, table: Html): Html {
  return html`<div class="scroll" role="region" aria-label="${label}" tabindex="0">${table}</div>`;
}

export function when(iso: string | Date | undefined | null): string {
  if (!iso) return '—';
  return new Date(iso).toISOString().replace('T', ' ').slice(0, 19) + ' UTC';
}
