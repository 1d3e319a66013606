import { expect, test } from '@playwright/test';
import { login } from './session';

// The server runs with TSUNAGU_DEMO_RECORDINGS=1: yesterday holds one voicemail message, 3 s
// from 09012345678 after the voice file 夜間案内.

test('the voicemail history lists the message and plays it; call history marks it (VM-01/02, HIST-06)', async ({ page }) => {
  await login(page, 'admin', 'Admin1234');
  await page.getByTestId('tabs').locator('a[data-tab="history"]').click();
  await page.getByTestId('side-menu').locator('a[href="/history/voicemail"]').click();
  const list = page.getByTestId('voicemail-list');
  await list.locator('input[name="party"]').fill('0901234');
  await list.getByRole('button', { name: /検索|Search/ }).click();
  const row = list.locator('tbody tr', { hasText: '09012345678' });
  await expect(row).toHaveCount(1);
  await expect(row).toContainText('夜間案内');
  await expect(row.locator('td').filter({ hasText: /^3$/ })).toHaveCount(1);
  const cell = row.locator('[data-testid^="voicemail-"]');
  await cell.getByRole('button', { name: /再生|Play/ }).click();
  const audio = cell.locator('audio');
  await expect(audio).toHaveCount(1);
  await expect
    .poll(() => audio.evaluate((a: HTMLAudioElement) => (Number.isFinite(a.duration) ? a.duration : 0)), { timeout: 10_000 })
    .toBeGreaterThan(2.5);
  expect(await audio.evaluate((a: HTMLAudioElement) => a.duration)).toBeLessThan(3.5);

  // A party nobody called from: nothing.
  await list.locator('input[name="party"]').fill('0000000');
  await list.getByRole('button', { name: /検索|Search/ }).click();
  await expect(list).toContainText(/条件に合う留守電はありません|No messages match/);

  await page.goto('/history/calls');
  const calls = page.getByTestId('call-list');
  await calls.locator('input[name="party"]').fill('09012345678');
  await calls.getByRole('button', { name: /検索|Search/ }).click();
  await expect(calls.locator('tbody tr', { hasText: '09012345678' }).getByTestId('call-voicemail')).toHaveCount(1);
});
