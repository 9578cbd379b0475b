import type { Browser, BrowserContext, Page } from 'playwright-core';
import { eventually } from '../../helpers/harness';
import type { ConsoleStack } from './console-stack';

export const DESKTOP = { width: 1366, height: 900 };
export const PHONE = { width: 390, height: 844 };

/** Asks for a sign-in link on the first page, as a person would: the email, then Enter. */
export async function requestLink(page: Page, stack: ConsoleStack, email: string): Promise<string> {
  const before = stack.smtp.mails.length;
  await page.goto(`${stack.url}/`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Email').press('Enter');
  await page.getByText('Check your email').waitFor();
  return eventually('the sign-in mail', async () => (stack.smtp.mails.length > before ? stack.smtp.linkFor(email) : undefined));
}

/** Opens a mailed sign-in link and presses its Sign in button, as a person would; resolves on the console. */
export async function openLink(page: Page, stack: ConsoleStack, link: string): Promise<void> {
  await page.goto(link);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${stack.url}/employees`);
}

/** A browser context of its own, signed in through the mailed link. */
export async function signedInContext(browser: Browser, stack: ConsoleStack, email: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: DESKTOP });
  const page = await context.newPage();
  const link = await requestLink(page, stack, email);
  await openLink(page, stack, link);
  return { context, page };
}

/** The session's CSRF token, as the page's forms carry it. */
export async function csrfToken(page: Page): Promise<string> {
  return page.locator('input[name="_csrf"]').first().inputValue();
}

/** The Cookie header a browser context would send to the console. */
export async function cookieHeader(context: BrowserContext, url: string): Promise<string> {
  return (await context.cookies(url)).map((c) => `${c.name}=${c.value}`).join('; ');
}
