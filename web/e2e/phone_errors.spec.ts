// The browser phone tells the agent in words when the microphone cannot be used (issue 6):
// here Chromium has a (fake) microphone but the page was not given permission to use it.
import { expect, test, type Page } from '@playwright/test';

test.use({
  launchOptions: {
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--use-fake-device-for-media-stream',
      '--deny-permission-prompts',
    ],
  },
});

async function login(page: Page, loginId: string, password: string) {
  await page.goto('/login');
  await page.locator('input[name="login_id"]').fill(loginId);
  await page.locator('input[name="password"]').fill(password);
  await page.locator('button[type="submit"]').click();
  await expect(page.getByTestId('tabs')).toBeVisible();
}

test('a blocked microphone is explained and no call is placed', async ({ browser }) => {
  const page = await (await browser.newContext({ locale: 'en-US' })).newPage();
  await login(page, '202', 'Demo1234');
  await page.getByTestId('app-phone').click();
  await page.getByTestId('phone-power').click();
  await expect(page.getByTestId('phone-power')).toHaveAttribute('aria-checked', 'true', { timeout: 10_000 });
  await page.getByTestId('phone-number').fill('203');
  await page.getByTestId('phone-dial').click();
  await expect(page.getByTestId('phone-error')).toBeVisible({ timeout: 10_000 });
  await expect(page.getByTestId('phone-error')).toContainText(/マイク|microphone/i);
  // Nothing is dialled: the phone is ready again.
  await expect(page.getByTestId('phone-dial')).toBeVisible();
  await expect(page.getByTestId('phone-timer')).toHaveCount(0);
  await page.getByTestId('phone-power').click();
  await expect(page.getByTestId('phone-power')).toHaveAttribute('aria-checked', 'false');
});
