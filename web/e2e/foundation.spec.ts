import { expect, test, type Page } from '@playwright/test';
import { login } from './session';

const ADMIN = { id: 'admin', password: 'Admin1234' };
const TAB_KEYS = ['crm', 'sv', 'history', 'admin', 'personal'] as const;

function suffix(): string {
  return Math.random().toString(36).replace(/[^a-z0-9]/g, '').slice(0, 6).padEnd(6, '0');
}


async function logout(page: Page) {
  await page.getByTestId('logout').click();
  await expect(page.locator('input[name="login_id"]')).toBeVisible();
}

async function visibleTabKeys(page: Page): Promise<string[]> {
  const links = page.getByTestId('tabs').locator('a[data-tab]');
  return links.evaluateAll((els) => els.map((e) => e.getAttribute('data-tab') ?? ''));
}

test('admin creates an agent; server validation shown beside the field; agent sees only its tabs', async ({ page }) => {
  const loginId = `e2eagent${suffix()}`.slice(0, 15);
  await login(page, ADMIN.id, ADMIN.password);

  // Admin → Agents
  await page.getByTestId('tabs').locator('a[data-tab="admin"]').click();
  await expect(page.getByTestId('select-from-menu')).toBeVisible();
  await page.getByTestId('side-menu').locator('a[href="/admin/agents"]').click();
  await expect(page.getByTestId('agent-list')).toBeVisible();
  await page.getByTestId('new-button').click();

  const form = page.getByTestId('agent-form');
  await expect(form).toBeVisible();
  await expect(page.getByTestId('record-id')).toHaveText(/新規|New/);
  await form.locator('[name="login_id"]').fill(loginId);
  await form.locator('[name="name"]').fill('E2E Agent');
  await form.locator('[name="nickname"]').fill('e2e');
  await form.locator('select[name="role"]').selectOption('agent');
  await form.locator('[name="password"]').fill('weak');
  await form.getByRole('button', { name: /変更を保存|Save changes/ }).click();

  // The server's password-policy message appears beside the password field.
  const pwRow = form.locator('[data-field-row="password"]');
  await expect(pwRow.locator('.field-error')).toBeVisible();
  await expect(pwRow.locator('.field-error')).not.toBeEmpty();
  await expect(form.locator('[name="password"]')).toHaveAttribute('aria-invalid', 'true');

  await form.locator('[name="password"]').fill('Strong123x');
  await form.getByRole('button', { name: /変更を保存|Save changes/ }).click();
  await expect(page.getByTestId('saved-banner')).toHaveText(/変更を保存しました|Changes saved/);
  await expect(page.getByTestId('record-id')).not.toHaveText(/新規|New/);
  await expect(page.getByTestId('created-line')).toContainText(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/);

  await logout(page);
  await login(page, loginId, 'Strong123x');

  const me = await (await page.request.get('/api/v1/me')).json();
  const allowed = TAB_KEYS.filter((k) => me.permissions.includes(`tab.${k}`));
  expect(allowed).toEqual(expect.arrayContaining(['crm', 'history', 'personal']));
  expect(allowed).not.toContain('sv');
  expect(allowed).not.toContain('admin');
  expect(await visibleTabKeys(page)).toEqual(allowed);

  const tabs = page.getByTestId('tabs');
  await expect(tabs.locator('a[data-tab="admin"]')).toHaveCount(0);
  await expect(tabs.getByRole('link', { name: /管理設定|Admin settings/ })).toHaveCount(0);
  await expect(tabs.getByRole('link', { name: 'SV', exact: true })).toHaveCount(0);
  await expect(tabs.getByRole('link', { name: /通話履歴|Call history/ })).toBeVisible();

  // Direct navigation to an admin screen is refused client-side as well.
  await page.goto('/admin/agents');
  await expect(page.getByTestId('agent-list')).toHaveCount(0);
});

test('switching the language in Personal settings relabels the tabs immediately', async ({ page }) => {
  // Prepare a fresh agent through the API so the admin's own language is untouched.
  const loginId = `e2elang${suffix()}`.slice(0, 15);
  const res = await page.request.post('/api/v1/auth/login', { data: { login_id: ADMIN.id, password: ADMIN.password } });
  expect(res.status()).toBe(200);
  const { csrf_token } = await res.json();
  const created = await page.request.post('/api/v1/agents', {
    headers: { 'X-CSRF-Token': csrf_token },
    data: { login_id: loginId, name: 'E2E Lang', nickname: 'lang', password: 'Strong123x', role: 'agent', language: 'ja' },
  });
  expect(created.status(), await created.text()).toBe(201);
  await page.request.post('/api/v1/auth/logout', { headers: { 'X-CSRF-Token': csrf_token } });

  await login(page, loginId, 'Strong123x');
  const tabs = page.getByTestId('tabs');
  await expect(tabs.getByRole('link', { name: '通話履歴' })).toBeVisible();

  await tabs.locator('a[data-tab="personal"]').click();
  await page.getByTestId('side-menu').locator('a[href="/personal/preferences"]').click();
  await page.locator('select[name="language"]').selectOption('en');

  await expect(tabs.getByRole('link', { name: 'Call history' })).toBeVisible();
  await expect(tabs.getByRole('link', { name: 'Personal settings' })).toBeVisible();
  await expect(tabs.getByRole('link', { name: '通話履歴' })).toHaveCount(0);
  await expect(page.getByTestId('saved-banner')).toHaveText('Changes saved');

  // The choice is stored on the server: it survives a reload.
  await page.reload();
  await expect(page.getByTestId('tabs').getByRole('link', { name: 'Call history' })).toBeVisible();
});

test('group ring time: invalid value shows a field error; a valid one is saved and appears in the change history', async ({ page }) => {
  await login(page, ADMIN.id, ADMIN.password);

  // Admin → Groups → the demo group "Support"
  await page.getByTestId('tabs').locator('a[data-tab="admin"]').click();
  await page.getByTestId('side-menu').locator('a[href="/admin/groups"]').click();
  const list = page.getByTestId('group-list');
  await expect(list).toBeVisible();
  const row = list.locator('tbody tr', { hasText: 'Support' });
  await expect(row).toHaveCount(1);
  await row.locator('a.folder').click();

  const form = page.getByTestId('group-form');
  await expect(form).toBeVisible();
  await expect(form.locator('[name="name"]')).toHaveValue('Support');
  const ringTime = form.locator('[name="ring_time"]');
  await expect(ringTime).toHaveValue('20');
  const save = form.getByRole('button', { name: /変更を保存|Save changes/ });

  // 0 is out of range: the server's message appears beside the ring-time field.
  await ringTime.fill('0');
  await save.click();
  const ringRow = form.locator('[data-field-row="ring_time"]');
  await expect(ringRow.locator('.field-error')).toBeVisible();
  await expect(ringRow.locator('.field-error')).not.toBeEmpty();
  await expect(ringTime).toHaveAttribute('aria-invalid', 'true');
  await expect(page.getByTestId('saved-banner')).toHaveCount(0);

  // 25 is accepted.
  await ringTime.fill('25');
  await save.click();
  await expect(page.getByTestId('saved-banner')).toHaveText(/変更を保存しました|Changes saved/);
  await expect(ringRow.locator('.field-error')).toHaveCount(0);
  await expect(ringTime).toHaveValue('25');

  // The change history at the bottom shows ring_time 20 → 25.
  const change = page.getByTestId('change-history').locator('li[data-field="ring_time"]', { hasText: /20\s*→\s*25/ });
  await expect(change.first()).toBeVisible();
  await expect(change.first()).toContainText(/呼出時間|Ring time/);

  // Put the demo value back so the test can run again on the same server.
  await ringTime.fill('20');
  await save.click();
  await expect(page.getByTestId('saved-banner')).toBeVisible();
  await expect(page.getByTestId('change-history').locator('li[data-field="ring_time"]', { hasText: /25\s*→\s*20/ }).first()).toBeVisible();
});
