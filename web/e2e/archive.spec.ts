import { expect, test } from '@playwright/test';
import fs from 'node:fs';
import { login } from './session';

// The server runs with TSUNAGU_DEMO_RECORDINGS=1: three recordings of yesterday, archived at start.

test('the SV finds yesterday\'s ZIP with its size and downloads it (REC-01…04)', async ({ page }) => {
  await login(page, 'sv01');
  await page.getByTestId('tabs').locator('a[data-tab="history"]').click();
  await page.getByTestId('side-menu').locator('a[href="/history/archive"]').click();
  const list = page.getByTestId('archive-list');
  await expect(page.getByTestId('archive-warning')).toContainText(/業務時間中|business hours/);
  const row = list.locator('tbody tr').first();
  await expect(row).toBeVisible();
  const day = await row.getAttribute('data-day');
  expect(day).toMatch(/^\d{8}$/);
  await expect(row).toContainText(`${day}.zip`);
  await expect(page.getByTestId(`size-${day}`)).toHaveText(/^\d+\.\d{2} MB$/);

  // From/To narrow the list to that day, and a day without archives shows none.
  const iso = `${day!.slice(0, 4)}-${day!.slice(4, 6)}-${day!.slice(6, 8)}`;
  await list.locator('input[name="from"]').fill(iso);
  await list.locator('input[name="to"]').fill(iso);
  await list.getByRole('button', { name: /検索|Search/ }).click();
  await expect(list.locator('tbody tr')).toHaveCount(1);
  await list.locator('input[name="from"]').fill('2001-01-01');
  await list.locator('input[name="to"]').fill('2001-01-02');
  await list.getByRole('button', { name: /検索|Search/ }).click();
  await expect(list).toContainText(/該当するアーカイブはありません|No archives found/);
  await list.locator('input[name="from"]').fill(iso);
  await list.locator('input[name="to"]').fill(iso);
  await list.getByRole('button', { name: /検索|Search/ }).click();

  const [download] = await Promise.all([
    page.waitForEvent('download'),
    list.locator('tbody tr').first().getByRole('link', { name: /ダウンロード|Download/ }).click(),
  ]);
  expect(download.suggestedFilename()).toBe(`${day}.zip`);
  const file = await download.path();
  const bytes = fs.readFileSync(file);
  expect(bytes.subarray(0, 4).toString('latin1')).toBe('PK\u0003\u0004');
  const shown = await page.getByTestId(`size-${day}`).textContent();
  expect(shown).toBe(`${(bytes.length / 1_000_000).toFixed(2)} MB`);
});

test('agents have no archive menu and are refused by the server (ROLE-05)', async ({ page }) => {
  await login(page, '201');
  await page.getByTestId('tabs').locator('a[data-tab="history"]').click();
  await expect(page.getByTestId('side-menu').locator('a[href="/history/archive"]')).toHaveCount(0);
  const r = await page.request.get('/api/v1/recording-archives');
  expect(r.status()).toBe(403);
});

test('the admin edits the S3 settings: errors beside the fields, the secret never shown (S3-01)', async ({ page }) => {
  await login(page, 'admin', 'Admin1234');
  await page.goto('/admin/s3');
  const form = page.getByTestId('s3-settings');
  await form.locator('[data-field-row="enabled"] input[type="radio"]').nth(0).check();
  await form.locator('[name="bucket"]').fill('Bad_Bucket');
  await form.getByRole('button', { name: /変更を保存|Save changes/ }).click();
  await expect(form.locator('[data-field-row="bucket"] .field-error')).toBeVisible();
  await expect(form.locator('[data-field-row="access_key_id"] .field-error')).toBeVisible();
  await form.locator('[data-field-row="enabled"] input[type="radio"]').nth(1).check();
  await form.locator('[name="bucket"]').fill('tsunagu-recordings');
  await form.locator('[name="region"]').fill('ap-northeast-1');
  await form.locator('[name="access_key_id"]').fill('AKIAEXAMPLE');
  await form.locator('[name="secret_access_key"]').fill('very-secret-value');
  await form.getByRole('button', { name: /変更を保存|Save changes/ }).click();
  await expect(page.getByTestId('saved-banner')).toBeVisible();
  await page.reload();
  await expect(form.locator('[name="bucket"]')).toHaveValue('tsunagu-recordings');
  await expect(form.locator('[name="secret_access_key"]')).toHaveValue('');
  await expect(form.locator('[name="secret_access_key"]')).toHaveAttribute('placeholder', /設定済み|stored/);
  expect(await page.content()).not.toContain('very-secret-value');
});

test('the admin sees the system settings and a bad time is refused beside its field', async ({ page }) => {
  await login(page, 'admin', 'Admin1234');
  await page.goto('/admin/system');
  const form = page.getByTestId('system-settings');
  await expect(form.locator('[name="time_zone"]')).toHaveValue('Asia/Tokyo');
  await form.locator('[name="business_day_end"]').fill('25:00');
  await form.getByRole('button', { name: /変更を保存|Save changes/ }).click();
  await expect(form.locator('[data-field-row="business_day_end"] .field-error')).toBeVisible();
  await form.locator('[name="business_day_end"]').fill('18:00');
  await form.getByRole('button', { name: /変更を保存|Save changes/ }).click();
  await expect(page.getByTestId('saved-banner')).toBeVisible();
});
