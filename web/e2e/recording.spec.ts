// REC / HIST-04: a carrier call to a number routed straight to agent 203 is recorded; the agent
// pauses the recording from the header while on the call; the supervisor plays the recording
// in call history (the browser loads and decodes the WAV) and sees the pause.
import { expect, test, type Page } from '@playwright/test';
import { children, exited, freeMediaPort, freeUdpPort, phone, sipp } from './sipp';
import { login } from './session';

test.afterAll(() => {
  for (const c of children) c.kill();
});

/** Digits unique to this run, so the test can run again on the same server. */
function uniqueDigits(n: number): string {
  return String(Date.now()).slice(-n).padStart(n, '0');
}

/** Calls the API from the page, with the session's CSRF token. */
async function apiCall(page: Page, method: string, path: string, body?: unknown): Promise<unknown> {
  return page.evaluate(
    async ({ method, path, body }) => {
      const me = (await (await fetch('/api/v1/me')).json()) as { csrf_token: string };
      const res = await fetch(path, {
        method,
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf_token },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
      return res.status === 204 ? null : res.json();
    },
    { method, path, body },
  );
}

test('the agent pauses the recording and the supervisor plays it in call history', async ({ browser }) => {
  const did = `0356${uniqueDigits(6)}`;
  const caller = `0908${uniqueDigits(7)}`;
  const sv = await (await browser.newContext()).newPage();
  await login(sv, 'admin', 'Admin1234');
  const agents = (await apiCall(sv, 'GET', '/api/v1/agents?login_id=203')) as { items: { id: number }[] };
  await apiCall(sv, 'POST', '/api/v1/numbers', {
    number: did,
    name: 'E2E recording',
    route: { kind: 'agent', id: agents.items[0].id },
  });

  const agent = await (await browser.newContext()).newPage();
  await login(agent, '203');
  const uas = await phone('203', 300);
  const call = sipp('carrier.xml', ['-s', did, '-key', 'caller', caller, '-d', '5000', '-p', String(await freeUdpPort()), '-mp', String(await freeMediaPort())]);

  const toggle = agent.getByTestId('recording-toggle');
  await expect(toggle).toBeVisible({ timeout: 10_000 });
  await toggle.getByRole('button', { name: /録音一時停止|Pause recording/ }).click();
  await expect(toggle).toHaveAttribute('data-paused', 'true');
  await agent.waitForTimeout(1500);
  await toggle.getByRole('button', { name: /録音再開|Resume recording/ }).click();
  await expect(toggle).toHaveAttribute('data-paused', 'false');
  expect(await exited(call), 'the carrier call').toBe(0);
  expect(await exited(uas), 'the phone').toBe(0);
  await expect(toggle).toHaveCount(0, { timeout: 10_000 });

  await sv.goto('/history/calls');
  const list = sv.getByTestId('call-list');
  await list.locator('input[name="party"]').fill(caller);
  await list.getByRole('button', { name: /検索|Search/ }).click();
  const row = list.locator('tbody tr', { hasText: caller });
  await expect(row).toHaveCount(1);
  const cell = row.locator('[data-testid^="recording-"]');
  await expect(cell).toContainText(/一時停止 \d+秒|Paused \d+ s/, { timeout: 10_000 });
  await cell.getByRole('button', { name: /再生|Play/ }).click();
  const audio = cell.locator('audio');
  await expect(audio).toHaveCount(1);
  // The browser has fetched and decoded it: a duration near the talk time.
  await expect
    .poll(() => audio.evaluate((a: HTMLAudioElement) => (Number.isFinite(a.duration) ? a.duration : 0)), { timeout: 10_000 })
    .toBeGreaterThan(3);
  expect(await audio.evaluate((a: HTMLAudioElement) => a.duration)).toBeLessThan(7);
  await expect(cell.getByRole('link', { name: /ダウンロード|Download/ })).toHaveAttribute('href', /download=true/);
});
