import { randomUUID } from 'node:crypto';
import type { Browser } from 'playwright-core';
import { ConsoleSessionStore } from '../../src/stores/console-sessions';
import { eventually } from '../helpers/harness';
import { axeCheck, launchBrowser, saveAxeResults, screenshot } from './helpers/browser';
import { startConsoleStack, type ConsoleStack } from './helpers/console-stack';
import { cookieHeader, csrfToken, signedInContext } from './helpers/session';

let stack: ConsoleStack;
let browser: Browser;
const started = Date.now();

beforeAll(async () => {
  [stack, browser] = await Promise.all([startConsoleStack(), launchBrowser()]);
  stack.fake.setDefault({ kind: 'ok', reply: 'Noted.' });
});

afterAll(async () => {
  await browser?.close();
  await stack?.close();
  saveAxeResults('console-security', started);
});

/** A form POST as a browser sends it, with the given Origin and cookie. */
function post(path: string, fields: Record<string, string>, headers: Record<string, string>): Promise<Response> {
  return fetch(`${stack.url}${path}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
  });
}

describe('the console refuses', () => {
  it('a cross-origin POST and a POST without the session CSRF token, and changes nothing', async () => {
    const { context, page } = await signedInContext(browser, stack, `csrf-${randomUUID()}@example.test`);
    await page.goto(`${stack.url}/settings/communications`);
    const cookie = await cookieHeader(context, stack.url);
    const token = await csrfToken(page);
    const account = (await new ConsoleSessionStore(stack.h.db).accountByEmail((await page.locator('.who').textContent())!.trim()))!;

    const crossOrigin = await post('/settings/communications/webhook', { _csrf: token, enabled: 'true' }, { Cookie: cookie, Origin: 'https://evil.example' });
    expect(crossOrigin.status).toBe(403);
    const noOrigin = await post('/settings/communications/webhook', { _csrf: token, enabled: 'true' }, { Cookie: cookie });
    expect(noOrigin.status).toBe(403);
    const noToken = await post('/settings/communications/webhook', { enabled: 'true' }, { Cookie: cookie, Origin: stack.url });
    expect(noToken.status).toBe(403);
    const otherToken = await post('/settings/communications/keys', { _csrf: randomUUID(), name: 'x' }, { Cookie: cookie, Origin: stack.url });
    expect(otherToken.status).toBe(403);
    expect((await stack.h.accounts.getAccount(account.id))!.webhookEnabled).toBe(false);
    expect(await stack.h.keys.listApiKeys(account.id)).toEqual([]);

    // The same request from the console itself goes through.
    const sameOrigin = await post('/settings/communications/webhook', { _csrf: token, enabled: 'true' }, { Cookie: cookie, Origin: stack.url });
    expect(sameOrigin.status).toBe(302);
    expect((await stack.h.accounts.getAccount(account.id))!.webhookEnabled).toBe(true);
    await context.close();
  });

  it("one account reading or changing another's employees, keys and events: 404, and nothing changes", async () => {
    const owner = await signedInContext(browser, stack, `owner-${randomUUID()}@example.test`);
    const ownerAccount = (await new ConsoleSessionStore(stack.h.db).accountByEmail((await owner.page.locator('.who').textContent())!.trim()))!;
    await stack.h.accounts.updateAccount(ownerAccount.id, { webhookEnabled: true });
    const employee = await stack.h.employees.createEmployee({ accountId: ownerAccount.id, name: 'Private' });
    const { key, info } = await stack.h.keys.createApiKey(ownerAccount.id, 'private');
    const accepted = await fetch(`${stack.url}/api/webhook/`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ employee_id: employee.id, event: 'secret.thing', payload: 'for the owner only' }),
    });
    expect(accepted.status).toBe(202);
    const { message_id: messageId } = (await accepted.json()) as { message_id: string };

    const intruder = await signedInContext(browser, stack, `intruder-${randomUUID()}@example.test`);
    for (const path of [`/employees/${employee.id}`, `/events/${messageId}`, `/events/${messageId}/panel`, `/events/${messageId}/row`]) {
      const response = await intruder.page.goto(`${stack.url}${path}`);
      expect([path, response!.status()]).toEqual([path, 404]);
      expect(await intruder.page.content()).not.toContain('Private');
    }
    await screenshot(intruder.page, 'not-found-desktop');
    expect(await axeCheck(intruder.page, 'not-found (desktop)')).toEqual([]);
    await intruder.page.goto(`${stack.url}/events?employee=${employee.id}`);
    expect(await intruder.page.content()).not.toContain(messageId);
    await intruder.page.goto(`${stack.url}/settings/communications`);
    const revoke = await post(
      `/settings/communications/keys/${info.id}/revoke`,
      { _csrf: await csrfToken(intruder.page) },
      { Cookie: await cookieHeader(intruder.context, stack.url), Origin: stack.url },
    );
    expect(revoke.status).toBe(404);
    expect((await stack.h.keys.getApiKey(info.id))!.revokedAt).toBeUndefined();

    // The owner sees all of it.
    expect((await owner.page.goto(`${stack.url}/employees/${employee.id}`))!.status()).toBe(200);
    await eventually('the owner to see the event', async () =>
      (await owner.page.goto(`${stack.url}/events/${messageId}`))!.status() === 200 ? true : undefined,
    );
    await owner.context.close();
    await intruder.context.close();
  });

  it('a session after sign-out, on every device after "Sign out everywhere"', async () => {
    const email = `out-${randomUUID()}@example.test`;
    const laptop = await signedInContext(browser, stack, email);
    const phone = await signedInContext(browser, stack, email);
    await laptop.page.getByRole('button', { name: 'Sign out everywhere' }).click();
    await laptop.page.waitForURL(`${stack.url}/`);
    await phone.page.goto(`${stack.url}/employees`);
    expect(phone.page.url()).toBe(`${stack.url}/`);
    await phone.page.getByLabel('Email').waitFor();
    // A polling fragment of the ended session is sent to the sign-in page, not given it to swap in.
    const poll = await fetch(`${stack.url}/events/${randomUUID()}/row`, {
      headers: { 'HX-Request': 'true', Cookie: await cookieHeader(phone.context, stack.url) },
      redirect: 'manual',
    });
    expect([poll.status, poll.headers.get('HX-Redirect')]).toEqual([401, '/']);
    await laptop.context.close();
    await phone.context.close();
  });

  it('a sixth sign-in mail to one address within 15 minutes (429), with the same page for the person', async () => {
    const email = `limit-${randomUUID()}@example.test`;
    const send = () => post('/sign-in', { email }, { Origin: stack.url });
    for (let i = 0; i < 5; i++) expect((await send()).status).toBe(200);
    const limited = await send();
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('Retry-After'))).toBeGreaterThan(0);
    expect(await limited.text()).toContain('Too many sign-in requests');
    expect(stack.smtp.mails.filter((m) => m.to.includes(email))).toHaveLength(5);
    // Another address from the same client is not affected.
    expect((await post('/sign-in', { email: `other-${randomUUID()}@example.test` }, { Origin: stack.url })).status).toBe(200);
  });
});
