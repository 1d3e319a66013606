import { expect, test } from '@playwright/test';
import { login } from './session';

const ADMIN = { id: 'admin', password: 'Admin1234' };

/** Digits unique to this run, so the test can run again on the same server. */
function uniqueDigits(n: number): string {
  return String(Date.now()).slice(-n).padStart(n, '0');
}


test('admin blocks an incoming number and finds it in the list', async ({ page }) => {
  const number = `03${uniqueDigits(8)}`;
  await login(page, ADMIN.id, ADMIN.password);
  await page.getByTestId('tabs').locator('a[data-tab="sv"]').click();
  await page.getByTestId('side-menu').locator('a[href="/sv/blocks"]').click();
  await expect(page.getByTestId('block-list')).toBeVisible();
  await page.getByTestId('new-button').click();

  const form = page.getByTestId('block-form');
  const save = form.getByRole('button', { name: /変更を保存|Save changes/ });
  // Digits only: a hyphenated number is refused beside the field.
  await form.locator('[name="number"]').fill('03-1234');
  await save.click();
  await expect(form.locator('[data-field-row="number"] .field-error')).toBeVisible();

  await form.locator('[name="number"]').fill(number);
  await form.locator('[name="remarks"]').fill('E2E 迷惑電話');
  await save.click();
  await expect(page.getByTestId('saved-banner')).toHaveText(/変更を保存しました|Changes saved/);

  await page.getByTestId('top-link').click();
  const list = page.getByTestId('block-list');
  await list.locator('input[name="number"]').fill(number);
  await list.getByRole('button', { name: /検索|Search/ }).click();
  const row = list.locator('tbody tr', { hasText: number });
  await expect(row).toHaveCount(1);
  await expect(row).toContainText('E2E 迷惑電話');
});

test('outbound restriction upload reports created rows and bad lines', async ({ page }) => {
  const a = `06${uniqueDigits(8)}`;
  await login(page, ADMIN.id, ADMIN.password);
  await page.goto('/sv/restrictions');
  await expect(page.getByTestId('restriction-list')).toBeVisible();
  await page.getByTestId('upload-button').click();
  const dialog = page.getByTestId('upload-dialog');
  await expect(dialog).toBeVisible();
  await dialog.locator('input[type="file"]').setInputFiles({
    name: 'restrictions.csv',
    mimeType: 'text/csv',
    buffer: Buffer.from(`number,caller_number,remarks\n${a},,E2E\nnot-a-number\n`, 'utf-8'),
  });
  await dialog.getByTestId('upload-execute').click();
  const result = page.getByTestId('upload-result');
  await expect(result).toContainText(/登録 1 件|1 registered/);
  await expect(page.getByTestId('upload-line-errors')).toContainText(/3行目|Line 3/);
  await dialog.getByRole('button', { name: /閉じる|Close/ }).click();
  await expect(dialog).toHaveCount(0);
  const list = page.getByTestId('restriction-list');
  await list.locator('input[name="number"]').fill(a);
  await list.getByRole('button', { name: /検索|Search/ }).click();
  await expect(list.locator('tbody tr', { hasText: a })).toHaveCount(1);
});

test('call history screen shows the search criteria and a friendly empty result', async ({ page }) => {
  await login(page, ADMIN.id, ADMIN.password);
  await page.getByTestId('tabs').locator('a[data-tab="history"]').click();
  await page.getByTestId('side-menu').locator('a[href="/history/calls"]').click();
  const list = page.getByTestId('call-list');
  await expect(list).toBeVisible();
  for (const name of ['from', 'to', 'party', 'number', 'kind', 'agent_id', 'min_duration', 'group_id']) {
    await expect(list.locator(`[name="${name}"]`)).toBeVisible();
  }
  await expect(list.locator('input[name="from"]')).toHaveAttribute('type', 'date');
  await expect(list.locator('select[name="kind"] option').first()).toHaveText('--');
  for (const col of [/日付|Date/, /相手|Party/, /区分|Type/, /電話番号|Phone number/, /秒数|Duration/]) {
    await expect(list.locator('thead th', { hasText: col }).first()).toBeVisible();
  }
  // A party nobody called: the empty result says so in words.
  await list.locator('input[name="party"]').fill('no-such-party');
  await list.locator('input[name="from"]').fill('2024-01-01');
  await list.getByRole('button', { name: /検索|Search/ }).click();
  await expect(page.getByTestId('empty-list')).toHaveText(/該当する通話はありません|No calls match/);
});
