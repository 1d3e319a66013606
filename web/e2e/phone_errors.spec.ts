// The browser phone tells the agent in words when the microphone cannot be used (issue 6):
// here Chromium has a (fake) microphone but the page was not given permission to use it.
import { expect, test } from '@playwright/test';
import { CHROMIUM_ARGS, login } from './session';

test.use({
  launchOptions: {
    executablePath: '/usr/bin/chromium',
    args: [
      ...CHROMIUM_ARGS,
      '--use-fake-device-for-media-stream',
      '--deny-permission-prompts',
    ],
  },
});


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
