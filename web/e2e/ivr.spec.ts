import { expect, test, type Page } from '@playwright/test';
import { login } from './session';

/** A short 8 kHz mono WAV for the menu prompt. */
function wav(): Buffer {
  const samples = 800;
  const b = Buffer.alloc(44 + samples * 2);
  b.write('RIFF', 0);
  b.writeUInt32LE(36 + samples * 2, 4);
  b.write('WAVEfmt ', 8);
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20);
  b.writeUInt16LE(1, 22);
  b.writeUInt32LE(8000, 24);
  b.writeUInt32LE(16000, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36);
  b.writeUInt32LE(samples * 2, 40);
  return b;
}

async function csrf(page: Page): Promise<string> {
  const me = await (await page.request.get('/api/v1/me')).json();
  return me.csrf_token as string;
}

test('the admin builds an IVR with a schedule and buttons, and a loop is refused with its names (IVR-05/08/09)', async ({ page }) => {
  const suffix = String(Date.now()).slice(-6);
  await login(page, 'admin', 'Admin1234');
  const token = await csrf(page);
  const voice = await page.request.post('/api/v1/voice-files', {
    headers: { 'X-CSRF-Token': token },
    multipart: { name: `メニュー${suffix}`, file: { name: 'menu.wav', mimeType: 'audio/wav', buffer: wav() } },
  });
  expect(voice.status()).toBe(201);

  await page.goto('/admin/ivr');
  await expect(page.getByTestId('ivr-list')).toBeVisible();
  await page.getByTestId('new-button').click();
  const form = page.getByTestId('ivr-form');
  await form.locator('[name="name"]').fill(`受付${suffix}`);
  await form.locator('#f-default_route').selectOption('group');
  await form.locator('[data-field-row="schedule_on"] input[type="radio"]').nth(0).check();
  await form.getByTestId('add-entry').click();
  const entry = form.locator('[data-entry="0"]');
  await entry.locator('input[name="entries.0.from"]').fill('08:30');
  await entry.locator('input[name="entries.0.sat"]').check();
  await form.locator('[data-field-row="buttons_on"] input[type="radio"]').nth(0).check();
  await form.locator('#f-menu_voice_id').selectOption({ label: `メニュー${suffix}` });
  await form.locator('[data-key="2"] select').first().selectOption('group');
  // A wrong date is refused beside its field.
  await form.locator('[name="designated_days"]').fill('2026/12/31');
  const save = form.getByRole('button', { name: /変更を保存|Save changes/ });
  await save.click();
  await expect(form.locator('[data-field-row="designated_days"] .field-error')).toBeVisible();
  await form.locator('[name="designated_days"]').fill('2026-12-31');
  await save.click();
  await expect(page.getByTestId('saved-banner')).toBeVisible();
  const url = page.url();
  const a = Number(url.split('/').pop());
  expect(a).toBeGreaterThan(0);

  // Saved as built.
  const saved = await (await page.request.get(`/api/v1/ivrs/${a}`)).json();
  expect(saved.entries[0].from).toBe('08:30');
  expect(saved.entries[0].weekdays).toEqual([true, true, true, true, true, true, false]);
  expect(saved.buttons['2'].kind).toBe('group');
  expect(saved.designated_days).toEqual(['2026-12-31']);

  // B routes to A; making A route to B is refused, naming both.
  const b = await page.request.post('/api/v1/ivrs', {
    headers: { 'X-CSRF-Token': token },
    data: { name: `夜間${suffix}`, default_route: { kind: 'ivr', id: a } },
  });
  expect(b.status()).toBe(201);
  await page.reload();
  await form.locator('#f-default_route').selectOption('ivr');
  await form.locator('#f-default_route-id').selectOption({ label: `夜間${suffix}` });
  await save.click();
  const error = form.locator('[data-field-row="default_route"] .field-error');
  await expect(error).toContainText(`受付${suffix}`);
  await expect(error).toContainText(`夜間${suffix}`);
});
