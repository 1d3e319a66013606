// What every browser test does first, and the Chromium the tests run in.
import { expect, type Page } from '@playwright/test';
import fs from 'node:fs';
import path from 'node:path';

/** Flags that work for Debian's Chromium as root in a container (see TESTING.md). */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Logs in through the login screen and waits for the tab menu. Demo users share a password. */
export async function login(page: Page, loginId: string, password = 'Demo1234') {
  await page.goto('/login');
  await page.locator('input[name="login_id"]').fill(loginId);
  await page.locator('input[name="password"]').fill(password);
  await page.locator('button[type="submit"]').click();
  await expect(page.getByTestId('tabs')).toBeVisible();
  await expect(page.getByTestId('user-name')).not.toBeEmpty();
}

/**
 * Where a test writes the screenshot `name`: the committed pictures the README links
 * (e2e/screenshots/) only with TSUNAGU_UPDATE_SCREENSHOTS=1, otherwise an ignored folder, so
 * that a test run leaves the work tree as it was.
 */
export function screenshotPath(name: string): string {
  const dir =
    process.env.TSUNAGU_UPDATE_SCREENSHOTS === '1'
      ? path.resolve(process.cwd(), 'e2e/screenshots')
      : path.resolve(process.cwd(), 'test-results/screenshots');
  fs.mkdirSync(dir, { recursive: true });
  return path.join(dir, name);
}
