import { expect, test, type Page } from '@playwright/test';
import { login } from './session';

async function csrf(page: Page): Promise<string> {
  const me = await (await page.request.get('/api/v1/me')).json();
  return me.csrf_token as string;
}

test('the admin creates an external forwarding and routes a phone number to it (FWD-01…03)', async ({ page }) => {
  const suffix = String(Date.now()).slice(-6);
  await login(page, 'admin', 'Admin1234');
  const token = await csrf(page);
  // A number of our own for this test, so that other tests' routing stays as it is.
  const number = await page.request.post('/api/v1/numbers', {
    headers: { 'X-CSRF-Token': token },
    data: { number: `0509${suffix}`, name: `転送テスト${suffix}` },
  });
  expect(number.status()).toBe(201);
  const n = await number.json();

  await page.goto('/admin/forwards');
  await expect(page.getByTestId('forwarding-list')).toBeVisible();
  await page.getByTestId('new-button').click();
  const form = page.getByTestId('forwarding-form');
  await form.locator('[name="name"]').fill(`本社${suffix}`);
  await form.locator('[name="destination"]').fill('0398765432');
  // Without a caller number (and the called number not used) the field says what is missing.
  const save = form.getByRole('button', { name: /変更を保存|Save changes/ });
  await save.click();
  await expect(form.locator('[data-field-row="caller_number_id"] .field-error')).toBeVisible();
  await form.locator('#f-caller_number_id').selectOption(String(n.id));
  await save.click();
  await expect(page.getByTestId('saved-banner')).toBeVisible();
  const id = Number(page.url().split('/').pop());
  expect(id).toBeGreaterThan(0);
  const saved = await (await page.request.get(`/api/v1/forwardings/${id}`)).json();
  expect(saved).toMatchObject({ destination: '0398765432', caller_number_id: n.id, use_called_number: false });

  // The list shows its name, forwarding number and caller number.
  await page.goto('/admin/forwards');
  const row = page.getByTestId('forwarding-list').locator('tr', { hasText: `本社${suffix}` });
  await expect(row).toContainText('0398765432');
  await expect(row).toContainText(n.number);

  // The number's routing offers the forwarding.
  await page.goto(`/admin/numbers/${n.id}`);
  const numberForm = page.getByTestId('number-form');
  await numberForm.locator('#f-route').selectOption('forward');
  await numberForm.locator('#f-route-id').selectOption({ label: `本社${suffix} (0398765432)` });
  await numberForm.getByRole('button', { name: /変更を保存|Save changes/ }).click();
  await expect(page.getByTestId('saved-banner')).toBeVisible();
  const routed = await (await page.request.get(`/api/v1/numbers/${n.id}`)).json();
  expect(routed.route).toEqual({ kind: 'forward', id });

  // In use, the forwarding is not deleted.
  const del = await page.request.delete(`/api/v1/forwardings/${id}`, { headers: { 'X-CSRF-Token': token } });
  expect(del.status()).toBe(409);
});
