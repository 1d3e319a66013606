import { expect, test } from '@playwright/test';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { login } from './session';

// VOICE-06: the admin fills the SMTP settings, sends a test mail to a real SMTP server
// (aiosmtpd, crates/api/tests/support/smtp_sink.py) and sees that it was accepted.

// Playwright runs in web/.
const repo = path.resolve(process.cwd(), '..');

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

/** Starts the sink and resolves once it printed `ready`. */
async function sink(port: number, dir: string): Promise<ChildProcess> {
  const child = spawn(path.join(repo, '.venv/bin/python'), [path.join(repo, 'crates/api/tests/support/smtp_sink.py'), String(port), dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('aiosmtpd did not start')), 30_000);
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`aiosmtpd exited with ${code}`)));
  });
  return child;
}

test('the admin sets up mail and a test mail arrives (VOICE-06)', async ({ page }) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsunagu-smtp-'));
  const port = await freePort();
  const smtp = await sink(port, dir);
  try {
    await login(page, 'admin', 'Admin1234');
    await page.getByTestId('tabs').locator('a[data-tab="admin"]').click();
    await page.getByTestId('side-menu').locator('a[href="/admin/mail"]').click();
    const form = page.getByTestId('mail-settings');
    await expect(form.locator('[name="password"]')).toHaveAttribute('placeholder', /未設定|not set/);

    // A bad sender is refused beside its field.
    await form.locator('[data-field-row="enabled"] input[type="radio"]').nth(0).check();
    await form.locator('[name="host"]').fill('127.0.0.1');
    await form.locator('[name="security"]').selectOption('none');
    await expect(form.locator('[name="port"]')).toHaveValue('25');
    await form.locator('[name="port"]').fill(String(port));
    await form.locator('[name="from"]').fill('not an address');
    await form.getByRole('button', { name: /変更を保存|Save changes/ }).click();
    await expect(form.locator('[data-field-row="from"] .field-error')).toBeVisible();
    await form.locator('[name="from"]').fill('Tsunagu <noreply@example.com>');
    await form.getByRole('button', { name: /変更を保存|Save changes/ }).click();
    await expect(page.getByTestId('saved-banner')).toBeVisible();

    await page.getByTestId('mail-test-to').fill('admin@example.com');
    await page.getByTestId('mail-test').click();
    await expect(page.getByTestId('saved-banner')).toContainText(/受け付けました|accepted/);
    await expect.poll(() => fs.readdirSync(dir).filter((f) => f.endsWith('.json')).length, { timeout: 10_000 }).toBe(1);
    const got = JSON.parse(fs.readFileSync(path.join(dir, '0001.json'), 'utf8'));
    expect(got.rcpt_tos).toEqual(['admin@example.com']);

    // The server's error is shown when it cannot be reached.
    await form.locator('[name="port"]').fill(String(await freePort()));
    await page.getByTestId('mail-test').click();
    await expect(page.getByTestId('error-banner')).toContainText(/送信できませんでした|could not be sent/);
    await expect(page.getByTestId('mail-outbox')).toBeVisible();
  } finally {
    // Leave mail off for the other specs.
    await page.request.get('/api/v1/me').then(async (r) => {
      const csrf = (await r.json()).csrf_token as string;
      await page.request.put('/api/v1/settings/mail', {
        headers: { 'x-csrf-token': csrf },
        data: { enabled: false, host: '', port: 587, security: 'starttls', username: '', from: '' },
      });
    });
    smtp.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
