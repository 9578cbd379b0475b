import { randomUUID } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { curlFor } from '../../src/console/pages/employees';
import { ConsoleSessionStore } from '../../src/stores/console-sessions';
import { eventually } from '../helpers/harness';
import { findInPostgres } from '../helpers/postgres-dump';
import { runCli } from '../helpers/run-cli';
import { axeCheck, launchBrowser, saveAxeResults, screenshot } from './helpers/browser';
import { startConsoleStack, type ConsoleStack } from './helpers/console-stack';
import { DESKTOP, openLink, PHONE, requestLink, signedInContext } from './helpers/session';

let stack: ConsoleStack;
let browser: Browser;
const started = Date.now();

beforeAll(async () => {
  [stack, browser] = await Promise.all([startConsoleStack(), launchBrowser()]);
  stack.fake.setDefault({ kind: 'ok', reply: 'Order noted.', promptTokens: 1200, completionTokens: 300 });
});

afterAll(async () => {
  await browser?.close();
  await stack?.close();
  saveAxeResults('console-path', started);
});

/** Screenshots and axe at the desktop and the phone width; no serious or critical violation at either. */
async function checkPage(page: Page, name: string): Promise<void> {
  for (const [size, viewport] of [
    ['desktop', DESKTOP],
    ['phone', PHONE],
  ] as const) {
    await page.setViewportSize(viewport);
    await screenshot(page, `${name}-${size}`);
    expect(await axeCheck(page, `${name} (${size})`)).toEqual([]);
    // Nothing wider than the screen but the tables' own scrolling regions.
    expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);
  }
  await page.setViewportSize(DESKTOP);
}

/** Follows a link of the console's navigation. */
async function nav(page: Page, name: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name }).click();
  await page.waitForLoadState();
}

/** The seed's Quick Start, as a customer would run the curl the employee page shows. */
async function postCurl(curl: string, key: string): Promise<Response> {
  const url = curl.match(/curl -X POST (\S+)/)![1];
  const body = curl.match(/-d '([\s\S]*)'$/)![1];
  return fetch(url, { method: 'POST', headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' }, body });
}

describe('the console, in Chromium', () => {
  it("walks a new user's path: sign up by mail, employee, channel, key, a webhook's event, its credits, revoke", async () => {
    const email = `new-${randomUUID()}@example.test`;
    const context = await browser.newContext({ viewport: DESKTOP, permissions: ['clipboard-read', 'clipboard-write'] });
    const page = await context.newPage();
    await page.goto(`${stack.url}/`);
    await checkPage(page, 'sign-in');

    const link = await requestLink(page, stack, email);
    expect(await new ConsoleSessionStore(stack.h.db).accountByEmail(email)).toBeUndefined();
    await page.goto(link);
    await checkPage(page, 'sign-in-confirm');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${stack.url}/employees`);
    const account = (await new ConsoleSessionStore(stack.h.db).accountByEmail(email))!;
    expect(account).toMatchObject({ emailVerified: true, webhookEnabled: false });
    expect(await stack.h.ledger.balance(account.id)).toBe(100);

    await page.getByLabel('Name', { exact: true }).fill('Ada');
    await page.getByLabel('Instructions').fill('You handle shop events.');
    await page.getByLabel('Max credits per event').fill('50');
    await page.getByLabel('remember').check();
    await page.getByLabel('reply').check();
    await page.getByRole('button', { name: 'Create employee' }).click();
    await page.waitForURL(/\/employees\/[0-9a-f-]{36}$/);
    const employeeId = (await page.locator('#employee-id').textContent())!.trim();
    expect(await stack.h.employees.getEmployee(employeeId)).toMatchObject({
      tools: ['remember', 'reply'],
      limits: { maxCredits: 50 },
      instructions: 'You handle shop events.',
    });
    const curl = (await page.locator('#curl').textContent())!;
    expect(curl).toContain(`curl -X POST ${stack.url}/api/webhook/`);
    expect(curl).toContain(`"employee_id": "${employeeId}"`);
    await page.getByRole('button', { name: 'Copy the employee ID' }).click();
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(employeeId);
    await checkPage(page, 'employee');

    await page.getByLabel('Endpoint name').fill('crm');
    await page.getByLabel('URL', { exact: true }).fill('https://crm.example.test/hooks');
    await page.getByRole('button', { name: 'Add endpoint' }).click();
    const secret = (await page.locator('#new-secret').textContent())!.trim();
    expect(secret).toMatch(/^whsec_/);
    await page.goto(`${stack.url}/employees/${employeeId}`);
    await page.getByRole('region', { name: 'Endpoint list' }).getByText('https://crm.example.test/hooks').waitFor();
    expect(await page.content()).not.toContain(secret);

    await nav(page, 'Settings');
    const toggle = page.getByRole('switch', { name: 'Webhook' });
    expect(await toggle.getAttribute('aria-checked')).toBe('false');
    await toggle.click();
    await page.locator('[role="switch"][aria-checked="true"]').waitFor();
    expect((await stack.h.accounts.getAccount(account.id))!.webhookEnabled).toBe(true);

    await page.getByLabel('New Key').fill('shop');
    await page.getByLabel('New Key').press('Enter');
    await page.getByText('It will not be shown again').waitFor();
    const key = (await page.locator('#new-key').textContent())!.trim();
    expect(key).toMatch(/^sk-/);
    await checkPage(page, 'settings-communications-key-banner');

    // A slow first model turn: the Events page meets the event still running.
    stack.fake.enqueue({ kind: 'hang', ms: 4_000 });
    const accepted = await postCurl(curl, key);
    expect(accepted.status).toBe(202);
    const { message_id: messageId } = (await accepted.json()) as { message_id: string };

    const pagesAfterBanner: string[] = [];
    await nav(page, 'Events');
    const status = page.locator(`#event-${messageId} .status`);
    expect(['accepted', 'processing']).toContain(await status.textContent());
    // No reload: the row polls while the event runs (a reload would drop this mark).
    await page.evaluate('window.noReload = true');
    await eventually('the event to complete on the Events page', async () => ((await status.textContent()) === 'completed' ? true : undefined), 60_000);
    const credits = Number(await page.locator(`#event-${messageId} td.num`).textContent());
    expect(await page.evaluate('window.noReload')).toBe(true);
    expect(credits).toBeGreaterThan(0);
    await checkPage(page, 'events');
    pagesAfterBanner.push(await page.content());

    // The filters, through the form: each narrows the same list.
    const row = page.locator(`#event-${messageId}`);
    await page.getByLabel('Status').selectOption('failed');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.getByText('No events match').waitFor();
    await page.getByLabel('Status').selectOption('completed');
    await page.getByLabel('Employee', { exact: true }).selectOption({ label: 'Ada' });
    await page.getByLabel('Label').fill('order.completed');
    await page.getByRole('button', { name: 'Filter' }).click();
    await row.waitFor();
    for (const query of ['label=deploy.failed', `employee=${randomUUID()}`, 'from=2099-01-01', 'to=2000-01-01']) {
      await page.goto(`${stack.url}/events?${query}`);
      expect([query, await row.count()]).toEqual([query, 0]);
    }
    await page.goto(`${stack.url}/events?from=2000-01-01&status=completed`);
    await row.waitFor();

    await page.getByRole('link', { name: messageId }).click();
    await page.getByText('model turn').first().waitFor();
    expect(await page.getByRole('link', { name: 'Trace in the Temporal UI' }).getAttribute('href')).toContain('/workflows/');
    await checkPage(page, 'event-detail');
    pagesAfterBanner.push(await page.content());

    await page.getByRole('link', { name: 'Ada' }).click();
    await page.getByRole('region', { name: 'Inbox' }).getByText('Customer John placed order #1234').waitFor();
    await checkPage(page, 'employee-with-inbox');
    pagesAfterBanner.push(await page.content());

    await nav(page, 'Billing');
    await page.getByRole('region', { name: 'Usage by employee' }).getByText('Ada').waitFor();
    await page.getByRole('region', { name: 'Top-ups' }).getByText(`signup:${account.id}`).waitFor();
    await checkPage(page, 'billing');
    pagesAfterBanner.push(await page.content());
    const csvResponse = await page.request.get(`${stack.url}${await page.getByRole('link', { name: 'Download CSV by employee' }).getAttribute('href')}`);
    const csv = await csvResponse.text();
    const api = (await (await fetch(`${stack.url}/api/billing/usage?group_by=employee`, { headers: { Authorization: `Bearer ${key}` } })).json()) as {
      rows: Array<{ group: string; credits: number }>;
    };
    expect(csv.split('\r\n')[1]).toBe(`${employeeId},1,${credits},${csv.split('\r\n')[1].split(',').slice(3).join(',')}`);
    expect(api.rows).toEqual([expect.objectContaining({ group: employeeId, credits })]);

    await nav(page, 'Settings');
    pagesAfterBanner.push(await page.content());
    await page.getByRole('button', { name: 'Revoke shop' }).click();
    await page.getByText('revoked').waitFor();
    await eventually('the API to refuse the revoked key', async () => ((await postCurl(curl, key)).status === 401 ? true : undefined), 5_000);

    for (const html of pagesAfterBanner) expect(html).not.toContain(key);
    // The log is there (one line per request) and holds neither secret.
    expect(stack.logs.lines.filter((l) => l.msg === 'request').length).toBeGreaterThan(10);
    expect(stack.logs.text()).not.toContain(key);
    expect(stack.logs.text()).not.toContain(secret);
    expect(stack.logs.text()).not.toContain(new URL(link).searchParams.get('token'));
    const found = await findInPostgres(stack.h.db, [key, key.slice(3)]);
    expect([...found.values()].flat()).toEqual([]);
    await context.close();
  });

  it('lets a link sign in once, within its 15 minutes, and answers the same for known and unknown addresses', async () => {
    const email = `once-${randomUUID()}@example.test`;
    const first = await browser.newContext({ viewport: DESKTOP });
    const page = await first.newPage();
    const link = await requestLink(page, stack, email);
    const unknownAnswer = await page.locator('main').innerText();
    // A mail scanner fetches the link first (no cookies, no click): that spends nothing and creates nothing.
    const scanned = await fetch(link);
    expect(scanned.status).toBe(200);
    expect(await scanned.text()).toContain(email);
    expect(await new ConsoleSessionStore(stack.h.db).accountByEmail(email)).toBeUndefined();
    await openLink(page, stack, link);

    const second = await browser.newContext({ viewport: DESKTOP });
    const other = await second.newPage();
    const reused = await other.goto(link);
    expect(reused!.status()).toBe(400);
    await other.getByText('expired or was already used').waitFor();
    expect(await second.cookies(stack.url)).toEqual([]);

    // The same address again, now known: the same words.
    await requestLink(other, stack, email);
    expect(await other.locator('main').innerText()).toBe(unknownAnswer);

    const lateEmail = `late-${randomUUID()}@example.test`;
    const expired = await new ConsoleSessionStore(stack.h.db).createLink(lateEmail, -1_000);
    expect((await other.goto(`${stack.url}/sign-in/link?token=${expired}`))!.status()).toBe(400);
    expect(await new ConsoleSessionStore(stack.h.db).accountByEmail(lateEmail)).toBeUndefined();
    await first.close();
    await second.close();
  });

  it('says when the mail could not be sent, creates nothing, and does not count it against the limit', async () => {
    const email = `down-${randomUUID()}@example.test`;
    const context = await browser.newContext({ viewport: DESKTOP });
    const page = await context.newPage();
    stack.smtp.refuse = true;
    try {
      for (let i = 0; i < 6; i++) {
        await page.goto(`${stack.url}/`);
        await page.getByLabel('Email').fill(email);
        await page.getByLabel('Email').press('Enter');
        await page.getByText('could not be sent').waitFor();
      }
    } finally {
      stack.smtp.refuse = false;
    }
    const { rows } = await stack.h.db.query('SELECT count(*)::int AS n FROM sign_in_links WHERE email = $1 AND used_at IS NULL', [email]);
    expect(rows[0].n).toBe(0);
    // Six refused mails later (the limit is five), a working relay still takes the request.
    await requestLink(page, stack, email);
    await context.close();
  });

  it("verifies an operator-made account's email at its first sign-in, without sign-up credits", async () => {
    const email = `operator-made-${randomUUID()}@example.test`;
    const made = await stack.h.accounts.createAccount({ email });
    const { context } = await signedInContext(browser, stack, email);
    expect(await stack.h.accounts.getAccount(made.id)).toMatchObject({ emailVerified: true, webhookEnabled: false });
    expect(await stack.h.ledger.balance(made.id)).toBe(0);
    await context.close();
  });

  it('signs a person in with the link an operator prints (sistava account sign-in-link), once', async () => {
    const email = `support-${randomUUID()}@example.test`;
    const cli = await runCli(['account', 'sign-in-link', '--email', email, '--json'], { PUBLIC_URL: stack.url });
    expect(cli.code).toBe(0);
    expect(cli.json.link).toMatch(new RegExp(`^${stack.url}/sign-in/link\\?token=`));
    const context = await browser.newContext({ viewport: DESKTOP });
    const page = await context.newPage();
    await openLink(page, stack, cli.json.link);
    expect(await page.locator('.who').textContent()).toBe(email);
    expect((await page.goto(cli.json.link))!.status()).toBe(400);
    await context.close();
  });

  it("shows a failed event's status and error, and no charge", async () => {
    const email = `failed-${randomUUID()}@example.test`;
    const { context, page } = await signedInContext(browser, stack, email);
    const account = (await new ConsoleSessionStore(stack.h.db).accountByEmail(email))!;
    await stack.h.accounts.updateAccount(account.id, { webhookEnabled: true });
    const employee = await stack.h.employees.createEmployee({ accountId: account.id, name: 'Bea' });
    const { key } = await stack.h.keys.createApiKey(account.id, 'ci');
    stack.fake.enqueue({ kind: 'status', status: 400, message: 'Invalid value for messages.', code: 'invalid_value' });
    const accepted = await postCurl(curlFor(stack.url, employee.id), key);
    expect(accepted.status).toBe(202);
    const { message_id: messageId } = (await accepted.json()) as { message_id: string };

    await page.goto(`${stack.url}/events/${messageId}`);
    const status = page.locator('#event-panel .status').first();
    await eventually('the event to fail on its page', async () => ((await status.textContent()) === 'failed' ? true : undefined), 60_000);
    await page.getByRole('alert').getByText('MODEL_REJECTED').waitFor();
    expect(await page.locator('#event-panel .figures div').nth(1).textContent()).toContain('—');
    expect(await stack.h.ledger.chargeFor(account.id, messageId)).toBeUndefined();
    await checkPage(page, 'event-failed');
    await page.goto(`${stack.url}/events?status=failed`);
    await page.locator(`#event-${messageId}`).waitFor();
    await context.close();
  });
});
