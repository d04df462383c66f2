import { existsSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's Chromium (installed by .ci/run), headless, with nothing reaching out to the network (Playwright gives it a fresh profile). */
export const CHROMIUM = process.env.STRONGBOX_TEST_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Everything the console's pages logged as an error, or threw: a test fails on any of them
 * (assertNoConsoleErrors), not only on uncaught exceptions. A refused request the page shows as an
 * alert (a 4xx answer) is the page working, and is not counted.
 */
export const consoleErrors: string[] = [];

export async function launch(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: the console's tests need Debian's chromium ("apt-get install chromium"; .ci/run installs it).`);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  const newPage = browser.newPage.bind(browser);
  browser.newPage = async (o) => {
    const page = await newPage(o);
    page.on('pageerror', (err) => consoleErrors.push(`${page.url()}: uncaught ${err.message}`));
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      if (/^Failed to load resource: the server responded with a status of 4\d\d/.test(m.text())) return;
      consoleErrors.push(`${page.url()}: ${m.text()}`);
    });
    return page;
  };
  return browser;
}

/** A new page of the console at `url`, signed in. */
export async function signedIn(browser: Browser, url: string, user: string, password: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(url);
  await page.getByLabel('User').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  return page;
}

export function assertNoConsoleErrors(): void {
  if (consoleErrors.length) throw new Error(`The console logged errors:\n${consoleErrors.join('\n')}`);
}

/**
 * Where the tests save pictures of the console: dist/screenshots, or STRONGBOX_SCREENSHOT_DIR
 * (the README's come from "STRONGBOX_SCREENSHOT_DIR=docs/screenshots node scripts/run-tests.mjs console").
 */
export const SCREENSHOTS = path.resolve(process.env.STRONGBOX_SCREENSHOT_DIR ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '../../../screenshots'));
export function screenshotPath(name: string): string {
  mkdirSync(SCREENSHOTS, { recursive: true });
  return path.join(SCREENSHOTS, `${name}.png`);
}
