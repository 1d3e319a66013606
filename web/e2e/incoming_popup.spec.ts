// The incoming-call pop-up (issue 5): when the agent's phone rings for a queue call, the screen
// shows the caller, the number's name and the group, and opens the number's pop-up URL with
// @@@@ replaced by the caller's number (NUM-07, AGENT-15/17).
import { expect, test, type Page } from '@playwright/test';
import { login } from './session';
import { carrier, children, exited, phone } from './sipp';


/** A JSON request with the session's CSRF token. */
async function call(page: Page, method: string, url: string, body: unknown): Promise<number> {
  return page.evaluate(
    async ({ method, url, body }) => {
      const me = (await (await fetch('/api/v1/me')).json()) as { csrf_token: string };
      const res = await fetch(url, {
        method,
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf_token },
        body: JSON.stringify(body),
      });
      return res.status;
    },
    { method, url, body },
  );
}

test.afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

test('a ringing queue call shows the caller and opens the pop-up URL', async ({ browser, baseURL }) => {
  test.setTimeout(60_000);
  const admin = await (await browser.newContext()).newPage();
  await login(admin, 'admin', 'Admin1234');
  const url = `${baseURL}/crm-lookup?num=@@@@`;
  const answerUrl = `${baseURL}/crm-answer?num=@@@@`;
  expect(
    await call(admin, 'PATCH', '/api/v1/numbers/1', { incoming_popup_url: url, answer_popup_url: answerUrl }),
  ).toBe(200);

  const agentContext = await browser.newContext();
  const agent = await agentContext.newPage();
  await login(agent, '202', 'Demo1234');
  expect(
    await call(agent, 'PATCH', '/api/v1/me', { incoming_popup: true, answer_popup: true, popup_mode: 'new_tab' }),
  ).toBe(200);
  await agent.reload();
  await expect(agent.getByTestId('tabs')).toBeVisible();

  const uas = await phone('202', 3000);
  const popup = agentContext.waitForEvent('page');
  const opened_pages: Page[] = [];
  agentContext.on('page', (p) => opened_pages.push(p));
  const c = await carrier('carrier.xml', '09055550202', 1000);
  await expect(agent.getByTestId('incoming-call')).toBeVisible({ timeout: 10_000 });
  await expect(agent.getByTestId('incoming-caller')).toHaveText('09055550202');
  await expect(agent.getByTestId('incoming-call')).toContainText('Support line');
  const opened = await popup;
  expect(opened.url()).toContain('num=09055550202');
  // NUM-08/AGENT-16: answering opens the number's answer pop-up.
  await expect
    .poll(() => opened_pages.map((p) => p.url()).find((u) => u.includes('crm-answer')), { timeout: 15_000 })
    .toContain('crm-answer?num=09055550202');
  // Once answered, the notice goes away.
  await expect(agent.getByTestId('incoming-call')).toBeHidden({ timeout: 10_000 });
  expect(await exited(c)).toBe(0);
  expect(await exited(uas)).toBe(0);
  expect(await call(admin, 'PATCH', '/api/v1/numbers/1', { incoming_popup_url: '' })).toBe(200);
});
