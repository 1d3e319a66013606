import { expect, test } from '@playwright/test';
import { login } from './session';

const ADMIN = { id: 'admin', password: 'Admin1234' };

/** A RIFF/WAVE file: PCM header fields as given, `seconds` of a 440 Hz tone. */
function makeWav({ rate = 8000, channels = 1, bits = 16, seconds = 1.5 } = {}): Buffer {
  const align = (channels * bits) / 8;
  const frames = Math.round(rate * seconds);
  const data = Buffer.alloc(frames * align);
  for (let i = 0; i < frames; i++) {
    const sample = Math.round(Math.sin((2 * Math.PI * 440 * i) / rate) * 8000);
    for (let c = 0; c < channels; c++) {
      if (bits === 16) data.writeInt16LE(sample, (i * channels + c) * 2);
      else data.writeUInt8(128 + (sample >> 8), i * channels + c);
    }
  }
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVE', 8, 'ascii');
  header.write('fmt ', 12, 'ascii');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(channels, 22);
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * align, 28);
  header.writeUInt16LE(align, 32);
  header.writeUInt16LE(bits, 34);
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(data.length, 40);
  return Buffer.concat([header, data]);
}


test('admin uploads a voice file, sees its length, and a stereo file is refused beside the field', async ({ page }) => {
  const name = `E2E案内${Date.now() % 1_000_000}`;
  await login(page, ADMIN.id, ADMIN.password);
  await page.getByTestId('tabs').locator('a[data-tab="admin"]').click();
  await page.getByTestId('side-menu').locator('a[href="/admin/voices"]').click();
  await expect(page.getByTestId('voice-list')).toBeVisible();
  await page.getByTestId('new-button').click();

  const form = page.getByTestId('voice-form');
  const save = form.getByRole('button', { name: /変更を保存|Save changes/ });
  const fileRow = form.locator('[data-field-row="file"]');
  await form.locator('[name="name"]').fill(name);

  // VOICE-06: notification appears with voicemail ON, the address with notification ON.
  await expect(form.locator('[data-field-row="notify_email"]')).toHaveCount(0);
  await form.locator('[data-field-row="voicemail"]').getByLabel('ON').check();
  await expect(form.locator('[data-field-row="notify_email"]')).toBeVisible();
  await expect(form.locator('[data-field-row="email"]')).toHaveCount(0);
  await form.locator('[data-field-row="notify_email"]').getByLabel('ON').check();
  await form.locator('[name="email"]').fill('voicemail@example.com');

  // A 44.1 kHz stereo file: the server's explanation appears beside the file field.
  await form.locator('input[type="file"]').setInputFiles({
    name: 'stereo.wav',
    mimeType: 'audio/wav',
    buffer: makeWav({ rate: 44100, channels: 2, seconds: 0.2 }),
  });
  await save.click();
  await expect(fileRow.locator('.field-error')).toContainText('44100 Hz stereo 16-bit PCM found');
  await expect(fileRow.locator('.field-error')).toContainText('sox in.wav -r 8000 -c 1 -b 16 out.wav');

  // The right format is accepted: saved, with a download link and a player.
  await form.locator('input[type="file"]').setInputFiles({
    name: 'guidance.wav',
    mimeType: 'audio/wav',
    buffer: makeWav({ seconds: 1.5 }),
  });
  await expect(fileRow.locator('.field-error')).toHaveCount(0);
  await save.click();
  await expect(page.getByTestId('saved-banner')).toHaveText(/変更を保存しました|Changes saved/);
  await expect(page.getByTestId('voice-download')).toHaveText('guidance.wav');
  await expect(page.getByTestId('voice-player')).toBeVisible();
  const href = await page.getByTestId('voice-download').getAttribute('href');
  const download = await page.request.get(href!);
  expect(download.status()).toBe(200);
  expect(download.headers()['content-type']).toBe('audio/wav');
  expect((await download.body()).length).toBe(44 + 8000 * 2 * 1.5);

  // Listed with its length.
  await page.getByTestId('top-link').click();
  const list = page.getByTestId('voice-list');
  await list.locator('input[name="name"]').fill(name);
  await list.getByRole('button', { name: /検索|Search/ }).click();
  const row = list.locator('tbody tr', { hasText: name });
  await expect(row).toHaveCount(1);
  await expect(row.getByTestId('voice-duration')).toHaveText('0:01.5');
  await expect(row.getByRole('link', { name: /ダウンロード|Download/ })).toHaveAttribute('href', href!);

  // A group picks it as its greeting with the voice-file picker (UI-15).
  await page.goto('/admin/groups/new');
  const group = page.getByTestId('group-form');
  await group.locator('[name="name"]').fill(`${name}G`);
  await group.getByTestId('greeting_voice_id-pick').click();
  const dialog = page.getByTestId('voice-picker-dialog');
  await dialog.getByRole('searchbox').fill(name);
  await dialog.getByRole('button', { name: new RegExp(`(選択|Select) ${name}`) }).click();
  await expect(dialog).toHaveCount(0);
  await expect(group.locator('[name="greeting_voice_id"]')).toHaveValue(name);
  await group.getByRole('button', { name: /変更を保存|Save changes/ }).click();
  await expect(page.getByTestId('saved-banner')).toBeVisible();
  await expect(group.locator('[name="greeting_voice_id"]')).toHaveValue(name);
});
