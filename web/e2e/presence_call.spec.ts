// Presence Call (PRES-05): with the browser phone ON, 発信 in the presence list calls the
// colleague's extension from the browser phone. The colleague is a SIPp phone that answers and
// echoes RTP, so the browser hears its own microphone back through two relays.
import { expect, test } from '@playwright/test';
import { CHROMIUM_ARGS, login } from './session';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { children, exited, phone } from './sipp';

const MIC = path.join(os.tmpdir(), 'tsunagu-presence-mic.wav');
if (!fs.existsSync(MIC)) {
  execFileSync('sox', ['-n', '-r', '48000', '-c', '1', '-b', '16', MIC, 'synth', '30', 'sine', '440', 'vol', '0.5']);
}

test.use({
  launchOptions: {
    executablePath: '/usr/bin/chromium',
    args: [
      ...CHROMIUM_ARGS,
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${MIC}`,
      '--autoplay-policy=no-user-gesture-required',
    ],
  },
});

test.afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

test('presence Call dials the colleague from the browser phone (PRES-05)', async ({ browser }) => {
  const colleague = await phone('202', 300);
  const page = await (await browser.newContext()).newPage();
  await login(page, '201', 'Demo1234');

  // With the phone OFF, Call says why it cannot be used.
  await page.getByTestId('app-presence').click();
  const row = page.getByTestId('presence-agents').locator('li', { hasText: '202(' });
  await row.locator('.presence-name').click();
  const call = row.locator('button[data-action="call"]');
  await expect(call).toHaveAttribute('aria-disabled', 'true');

  // Phone ON, back to presence: Call is offered and dials.
  await page.getByTestId('app-phone').click();
  await page.getByTestId('phone-power').click();
  await expect(page.getByTestId('phone-power')).toHaveAttribute('aria-checked', 'true', { timeout: 10_000 });
  await page.getByTestId('app-presence').click();
  // The panel stays mounted, so the colleague's actions may still be open from before.
  await expect(row).toBeVisible();
  if (!(await call.isVisible())) await row.locator('.presence-name').click();
  await expect(call).not.toHaveAttribute('aria-disabled', 'true');
  await call.click();
  await page.getByTestId('app-phone').click();
  await expect(page.getByTestId('phone-remote')).toContainText('202');
  await expect(page.getByTestId('phone-timer')).toBeVisible({ timeout: 15_000 });
  // The colleague's echo comes back: audio flows both ways.
  await expect
    .poll(async () => Number(await page.getByTestId('phone-audio').getAttribute('data-rx')), { timeout: 10_000 })
    .toBeGreaterThan(1000);
  await page.getByTestId('phone-hangup').click();
  expect(await exited(colleague), "the colleague's phone saw the call through").toBe(0);
});
