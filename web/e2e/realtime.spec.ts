// The realtime screen and the header status against a running `tsunagu serve --demo`
// (TSUNAGU_URL), with real SIP traffic from SIPp against TSUNAGU_SIP. Nothing is started here
// except SIPp, which is always killed at the end.
//
// Counts are asserted relative to what the server had before, so the test can run again on the
// same server; on a fresh one the expectations are exactly: on call 1, answered 1 and 100 %,
// then abandoned 1 and 50 %.

import { expect, test, type Page } from '@playwright/test';
import { login, screenshotPath } from './session';
import { carrier, children, exited, phone } from './sipp';

const GROUP = 1; // the demo's Support group


/** PATCH /api/v1/me {language} with the session's CSRF token. */
async function setLanguage(page: Page, language: 'ja' | 'en') {
  const status = await page.evaluate(async (lang) => {
    const me = (await (await fetch('/api/v1/me')).json()) as { csrf_token: string };
    const res = await fetch('/api/v1/me', {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf_token },
      body: JSON.stringify({ language: lang }),
    });
    return res.status;
  }, language);
  expect(status).toBe(200);
}

interface Row {
  incoming: number;
  answered: number;
  abandoned: number;
}
async function groupRow(page: Page): Promise<Row> {
  const res = await page.request.get('/api/v1/realtime');
  expect(res.status()).toBe(200);
  const body = (await res.json()) as { groups: (Row & { group: number })[] };
  return body.groups.find((g) => g.group === GROUP)!;
}

const pct = (lang: string, answered: number, incoming: number) =>
  new Intl.NumberFormat(lang, { style: 'percent', maximumFractionDigits: 1 }).format(answered / incoming);

test.afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

test('realtime screen follows calls live; supervisor pauses an agent; header follows', async ({ browser }) => {
  test.setTimeout(120_000);
  const svContext = await browser.newContext({ viewport: { width: 1600, height: 1100 } });
  const agentContext = await browser.newContext();
  const sv = await svContext.newPage();
  const agent = await agentContext.newPage();
  try {
    await login(sv, 'sv01');
    await setLanguage(sv, 'ja');
    await login(agent, '201');
    const agentId = ((await (await agent.request.get('/api/v1/me')).json()) as { user: { id: number } }).user.id;

    // The agent starts Available in every group (⑥).
    await agent.getByTestId('all-available').click();
    await expect(agent.getByTestId(`tag-group-${GROUP}`)).toBeVisible();

    // SV → リアルタイム, the Support group's detail.
    await sv.getByTestId('tabs').locator('a[data-tab="sv"]').click();
    await sv.getByTestId('side-menu').locator('a[href="/sv/realtime"]').click();
    const row = sv.getByTestId(`rt-row-${GROUP}`);
    await expect(row).toBeVisible();
    await expect(sv.getByTestId('rt-row-all')).toBeVisible();
    await expect(sv.getByTestId('rt-connection')).toContainText('●');
    await row.getByTestId('open-detail').click();
    await expect(sv.getByTestId('rt-detail')).toBeVisible();
    const cell = (col: string) => row.locator(`[data-col="${col}"]`);
    const before = await groupRow(sv);

    // 201's phone registers: online and available on the SV screen.
    const uas = await phone('201', 1000);
    const agentRow = sv.getByTestId(`rt-agent-${agentId}`);
    await expect(agentRow).toHaveAttribute('data-status', 'available', { timeout: 5000 });
    await expect(agent.getByTestId('my-status')).toHaveAttribute('data-status', 'available');

    // A call: the phone answers after ~1 s, the carrier talks 4 s.
    const call = await carrier('carrier.xml', '09011112222', 4000);
    await expect(cell('on_call')).toHaveText('1', { timeout: 8000 });
    await expect(agentRow).toHaveAttribute('data-status', 'on_call');
    await expect(agent.getByTestId('my-status')).toHaveAttribute('data-status', 'on_call');
    expect(await exited(call), 'carrier call').toBe(0);
    expect(await exited(uas), 'answering phone').toBe(0);
    await expect(cell('on_call')).toHaveText('0', { timeout: 5000 });
    await expect(cell('answered')).toHaveText(String(before.answered + 1));
    await expect(cell('answer_rate')).toHaveText(pct('ja', before.answered + 1, before.incoming + 1));
    await expect(agentRow.locator('[data-col="calls_today"]')).not.toHaveText('0');
    await expect(agentRow.locator('[data-col="last_call"]')).toHaveText(/^00:00:0[3-5]$/);

    // The supervisor pauses 201 from the agent list; 201's header follows within 1 s.
    await sv.getByTestId(`rt-agent-status-${agentId}`).click();
    await sv.getByTestId(`rt-agent-status-${agentId}-menu`).locator('[data-choice="paused"]').click();
    await expect(agent.getByTestId('my-status')).toHaveAttribute('data-status', 'paused', { timeout: 1000 });
    await expect(agent.getByTestId(`tag-group-${GROUP}`)).toHaveAttribute('data-status', 'paused', { timeout: 1000 });
    await expect(agentRow).toHaveAttribute('data-status', 'paused');
    await expect(cell('paused')).toHaveText('1');

    // Nobody can take it: the caller waits (listed, wait time ticking) and gives up.
    const cancelled = await carrier('carrier_cancel.xml', '09033334444', 3000);
    await expect(cell('waiting')).toHaveText('1', { timeout: 5000 });
    const waitCell = sv.getByTestId('rt-waiting').locator('[data-col="wait"]').first();
    await expect(waitCell).toHaveText(/^00:00:0\d$/);
    const firstWait = await waitCell.textContent();
    await expect(waitCell).not.toHaveText(firstWait!, { timeout: 2500 });
    expect(await exited(cancelled), 'cancelled call').toBe(0);
    await expect(cell('waiting')).toHaveText('0', { timeout: 5000 });
    await expect(cell('abandoned')).toHaveText(String(before.abandoned + 1));
    await expect(cell('answer_rate')).toHaveText(pct('ja', before.answered + 1, before.incoming + 2));
    await expect(sv.getByTestId('rt-row-all').locator('[data-col="abandoned"]')).not.toHaveText('0');

    // Screenshots in Japanese, then in English.
    await sv.waitForTimeout(500); // let the chart animation settle
    await sv.screenshot({ path: screenshotPath('realtime-ja.png'), fullPage: true });
    await setLanguage(sv, 'en');
    await sv.reload();
    await expect(sv.getByRole('heading', { name: 'Realtime' })).toBeVisible();
    await sv.getByTestId(`rt-row-${GROUP}`).getByTestId('open-detail').click();
    await expect(sv.getByTestId('rt-detail')).toContainText('Agents');
    await expect(sv.getByTestId(`rt-row-${GROUP}`).locator('[data-col="answer_rate"]')).toHaveText(
      pct('en', before.answered + 1, before.incoming + 2),
    );
    await sv.waitForTimeout(500);
    await sv.screenshot({ path: screenshotPath('realtime-en.png'), fullPage: true });
  } finally {
    await setLanguage(sv, 'ja').catch(() => undefined);
    // Leave 201 Available for the next run.
    await agent
      .getByTestId('all-available')
      .click({ timeout: 2000 })
      .catch(() => undefined);
    await svContext.close();
    await agentContext.close();
  }
});
