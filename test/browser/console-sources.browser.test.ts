import { createHmac, randomUUID } from 'node:crypto';
import type { Browser } from 'playwright-core';
import { axeCheck, launchBrowser, saveAxeResults, screenshot } from './helpers/browser';
import { startConsoleStack, type ConsoleStack } from './helpers/console-stack';
import { signedInContext } from './helpers/session';
import { eventually } from '../helpers/harness';

let stack: ConsoleStack;
let browser: Browser;
const started = Date.now();

beforeAll(async () => {
  [stack, browser] = await Promise.all([startConsoleStack(), launchBrowser()]);
  stack.fake.setDefault({ kind: 'ok', reply: 'Seen.' });
});

afterAll(async () => {
  await browser?.close();
  await stack?.close();
  saveAxeResults('console-sources', started);
});

describe('Settings → Sources, in Chromium', () => {
  it('adds a GitHub source with its URL and secret shown once; a delivery signed as GitHub signs it wakes the employee and shows as the last delivery; Disable makes it answer 503', async () => {
    const { context, page } = await signedInContext(browser, stack, `sources-${randomUUID()}@example.test`);
    await page.goto(`${stack.url}/employees`);
    await page.getByLabel('Name', { exact: true }).fill('Octo');
    await page.getByRole('button', { name: 'Create employee' }).click();
    await page.waitForURL(/\/employees\/[0-9a-f-]{36}$/);
    const employeeId = page.url().split('/').pop()!;
    await page.goto(`${stack.url}/settings/communications`);
    await page.getByRole('switch', { name: 'Webhook' }).click();
    await eventually('the channel on', async () =>
      (await page.getByRole('switch', { name: 'Webhook' }).getAttribute('aria-checked')) === 'true' ? true : undefined,
    );

    await page.getByRole('link', { name: 'Sources' }).click();
    await page.getByLabel('Name').fill('repo events');
    await page.getByLabel('Sender').selectOption('github');
    await page.getByRole('button', { name: 'Add source' }).click();
    const banner = page.getByRole('status');
    await expect(banner.textContent()).resolves.toContain('the secret will not be shown again');
    const url = (await page.locator('#new-source-url').textContent())!.trim();
    const secret = (await page.locator('#new-source-secret').textContent())!.trim();
    expect(url).toMatch(new RegExp(`^${stack.url}/api/sources/[0-9a-f-]{36}$`));
    expect((await axeCheck(page, 'settings-sources')).filter((v) => v.impact === 'serious' || v.impact === 'critical')).toEqual([]);
    await screenshot(page, 'settings-sources');

    // As GitHub signs a delivery: HMAC-SHA256 of the raw body, hex, in X-Hub-Signature-256.
    const body = JSON.stringify({ action: 'opened', issue: { number: 7, title: 'Crash' }, sender: { login: 'octocat' } });
    const signature = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
    const deliver = () =>
      fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-GitHub-Event': 'issues', 'X-GitHub-Delivery': randomUUID(), 'X-Hub-Signature-256': signature },
        body,
      });
    expect((await deliver()).status).toBe(202);
    const inbox = await eventually('the event in the inbox', async () => {
      const entries = await stack.h.memory.inbox(employeeId);
      return entries.length > 0 ? entries : undefined;
    });
    expect(inbox.at(-1)!.text.startsWith('[Webhook: issues.opened] ')).toBe(true);

    await page.goto(`${stack.url}/settings/sources`);
    const row = page.getByRole('row', { name: /repo events/ });
    await expect(row.textContent()).resolves.not.toContain('—');
    // The secret is in no page after the banner.
    expect(await page.content()).not.toContain(secret);

    await row.getByRole('button', { name: 'Disable repo events' }).click();
    await page.waitForURL(/\/settings\/sources$/);
    const refused = await deliver();
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBeTruthy();
    await context.close();
  });
});
