import { expect, test, type Page } from '@playwright/test';
import { login } from './session';

async function csrf(page: Page): Promise<string> {
  const me = await (await page.request.get('/api/v1/me')).json();
  return me.csrf_token as string;
}

test('the routing-target picker finds a target by typing and takes it with the keyboard (UI-16)', async ({ page }) => {
  const suffix = String(Date.now()).slice(-6);
  await login(page, 'admin', 'Admin1234');
  const token = await csrf(page);
  // A number of our own, so that other tests' routing stays as it is.
  const number = await page.request.post('/api/v1/numbers', {
    headers: { 'X-CSRF-Token': token },
    data: { number: `0508${suffix}`, name: `検索テスト${suffix}` },
  });
  expect(number.status()).toBe(201);
  const n = await number.json();

  await page.goto(`/admin/numbers/${n.id}`);
  const form = page.getByTestId('number-form');
  const search = form.getByTestId('f-route-search');
  await search.fill('zzzz-nothing');
  await expect(form.getByRole('listbox')).toContainText(/該当なし|No match/);
  // Agents and groups in one list: "Sup" finds the Support group.
  await search.fill('Sup');
  const option = form.getByRole('option', { name: /Support/ });
  await expect(option).toBeVisible();
  await search.press('ArrowDown');
  await search.press('ArrowUp');
  await search.press('Enter');
  await expect(form.locator('#f-route')).toHaveValue('group');
  await expect(form.locator('#f-route-id')).toHaveValue('1');
  await expect(form.getByRole('listbox')).toHaveCount(0);
  await form.getByRole('button', { name: /変更を保存|Save changes/ }).click();
  await expect(page.getByTestId('saved-banner')).toBeVisible();
  const routed = await (await page.request.get(`/api/v1/numbers/${n.id}`)).json();
  expect(routed.route).toEqual({ kind: 'group', id: 1 });
});
