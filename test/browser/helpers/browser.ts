import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's Chromium: no browser is downloaded (apt-get install -y chromium). */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const SCREENSHOTS = path.resolve(__dirname, '..', 'screenshots');

export async function launchBrowser(): Promise<Browser> {
  // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: unknown }>;
}

/**
 * Runs axe-core in the page (injected as a file, which the page's CSP does not govern) and returns
 * the serious and critical violations; the counts of all are recorded in `axeResults` for the report.
 */
export async function axeCheck(page: Page, name: string): Promise<AxeViolation[]> {
  // Evaluated over the DevTools protocol, which the page's CSP (no inline script) does not govern.
  await page.evaluate(fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8'));
  const violations = await page.evaluate<AxeViolation[]>(
    `axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) })))`,
  );
  axeResults.push({ page: name, width: page.viewportSize()?.width ?? 0, violations: violations.map((v) => `${v.impact}:${v.id}`) });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

export const axeResults: Array<{ page: string; width: number; violations: string[] }> = [];

/** Writes this file's axe results (every violation, by impact and rule) and its duration beside the screenshots. */
export function saveAxeResults(file: string, startedAt: number): void {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  fs.writeFileSync(path.join(SCREENSHOTS, `axe-${file}.json`), JSON.stringify({ seconds: (Date.now() - startedAt) / 1000, axeResults }, null, 2));
}

/** Saves a full-page screenshot under test/browser/screenshots/ (ignored by git). */
export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
