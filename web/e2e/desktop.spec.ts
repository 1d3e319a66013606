// The agent desktop around the pages (issue 5): the presence panel with live statuses
// (PRES-01…03), the right application panel whose browser-phone place is never unmounted
// (UI-10), the collapsible side menu and panel (UI-09) and the pin of the tab menu (UI-01 ⑦),
// against a running `tsunagu serve --demo` (TSUNAGU_URL) with a SIPp phone on TSUNAGU_SIP.

import { expect, test, type Page } from '@playwright/test';
import { login } from './session';
import { children, exited, phone, unregister } from './sipp';



async function myId(page: Page): Promise<number> {
  return ((await (await page.request.get('/api/v1/me')).json()) as { user: { id: number } }).user.id;
}

test.afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

test("presence: an agent sees a colleague's status change live and the actions on click", async ({ browser }) => {
  test.setTimeout(90_000);
  const aContext = await browser.newContext();
  const bContext = await browser.newContext();
  const a = await aContext.newPage();
  const b = await bContext.newPage();
  let registered = false;
  try {
    await login(a, '201');
    await login(b, '203');
    const idB = await myId(b);

    // A opens presence from the header icon: it turns blue (pressed), the panel shows it.
    await a.getByTestId('app-presence').click();
    await expect(a.getByTestId('app-presence')).toHaveAttribute('aria-pressed', 'true');
    await expect(a.getByTestId('app-presence')).toHaveClass(/active/);
    const panel = a.getByTestId('presence');
    await expect(panel).toBeVisible();
    await expect(a.getByTestId('presence-group')).toHaveValue('1');
    await expect(a.getByTestId('presence-group').locator('option')).toHaveText(['Support (800)']);
    const list = a.getByTestId('presence-agents');
    await expect(list.locator('.presence-label')).toHaveText([/^201\(佐藤\)/, /^202\(鈴木\)/, /^203\(高橋\)/]);

    // B's phone registers and B is Available: A sees it without reloading.
    const uas = await phone('203', 1000);
    registered = true;
    await b.getByTestId('all-available').click();
    const rowB = a.getByTestId(`presence-agent-${idB}`);
    await expect(rowB).toHaveAttribute('data-status', 'available', { timeout: 5000 });
    await expect(rowB.getByTestId('presence-status')).toHaveText('待機');

    // B pauses in the header: A's panel follows within a second, and back.
    await b.getByTestId('tag-all-drop').click();
    await b.getByTestId('tag-all-drop-menu').locator('[data-choice="paused"]').click();
    await expect(rowB).toHaveAttribute('data-status', 'paused', { timeout: 1000 });
    await expect(rowB.getByTestId('presence-status')).toHaveText('停止');
    await b.getByTestId('all-available').click();
    await expect(rowB).toHaveAttribute('data-status', 'available', { timeout: 1000 });

    // Clicking B lists the actions; those of later releases are disabled and say so, Call needs
    // the browser phone ON (PRES-05), Callback can be used (PRES-06). Monitoring and whispering
    // are not for the Agent role (PRES-09).
    await rowB.getByRole('button', { name: /203\(高橋\)/ }).click();
    const actions = rowB.getByTestId('presence-actions');
    await expect(actions).toBeVisible();
    const buttons = actions.locator('button.presence-action');
    await expect(buttons).toHaveText(['チャット', '発信', 'コールバック', '転送', '保留転送']);
    for (const key of ['chat', 'transfer', 'hold_transfer']) {
      const button = actions.locator(`button[data-action="${key}"]`);
      await expect(button).toHaveAttribute('aria-disabled', 'true');
      await expect(button).toHaveAttribute('title', '今後のリリースで利用できるようになります');
    }
    await expect(actions.locator('button[data-action="call"]')).toHaveAttribute('aria-disabled', 'true');
    await expect(actions.locator('button[data-action="call"]')).toHaveAttribute(
      'title',
      'ブラウザフォンをONにすると発信できます',
    );
    await expect(actions.locator('button[data-action="callback"]')).not.toHaveAttribute('aria-disabled', 'true');
    await expect(actions).toContainText('今後のリリースで利用できるようになります');
    // Playwright will not click an aria-disabled button; a user can, and nothing happens.
    await buttons.first().dispatchEvent('click');
    await expect(actions).toBeVisible();
    // Escape closes the list and returns to the agent.
    await a.keyboard.press('Escape');
    await expect(actions).toBeHidden();
    await expect(rowB.getByRole('button', { name: /203\(高橋\)/ })).toBeFocused();

    // B's phone goes away: offline on A's screen.
    uas.kill('SIGKILL');
    await unregister('203');
    registered = false;
    await expect(rowB).toHaveAttribute('data-status', 'offline', { timeout: 5000 });
    await exited(uas);
  } finally {
    if (registered) await unregister('203').catch(() => undefined);
    await aContext.close();
    await bContext.close();
  }
});

test('right panel: the phone stays mounted; menu and panel collapse and the pin persist', async ({ browser }) => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 600 } });
  const page = await context.newPage();
  try {
    await login(page, 'sv01');

    // The browser phone is the first application; its place is marked to check it survives.
    await expect(page.getByTestId('app-phone')).toHaveAttribute('aria-pressed', 'true');
    await expect(page.getByTestId('phone-app')).toBeVisible();
    await expect(page.getByTestId('phone-app')).toContainText('ブラウザフォン');
    await page.getByTestId('phone-app').evaluate((el) => {
      (window as unknown as { phoneNode: Element }).phoneNode = el;
    });
    const phoneSurvived = () =>
      page.evaluate(() => {
        const el = (window as unknown as { phoneNode?: Element }).phoneNode;
        return !!el && el.isConnected && el === document.querySelector('[data-testid="phone-app"]');
      });

    // Chat: shown, disabled, explained.
    const chat = page.getByTestId('app-chat');
    await expect(chat).toHaveAttribute('aria-disabled', 'true');
    await expect(chat).toHaveAttribute('title', 'チャットは今後のリリースで利用できるようになります');
    await chat.dispatchEvent('click');
    await expect(page.getByTestId('app-phone')).toHaveAttribute('aria-pressed', 'true');

    // Presence for a supervisor: every group, and monitoring and whispering among the actions.
    await page.getByTestId('app-presence').click();
    await expect(page.getByTestId('phone-app')).toBeHidden();
    await expect(page.getByTestId('app-phone')).toHaveAttribute('aria-pressed', 'false');
    await expect(page.getByTestId('presence')).toBeVisible();
    await page.getByTestId('presence-agents').locator('.presence-name').first().click();
    await expect(page.getByTestId('presence-actions').locator('button')).toHaveText([
      'チャット',
      '発信',
      'コールバック',
      '転送',
      '保留転送',
      'モニタリング',
      'ウィスパリング',
    ]);

    // Navigating and collapsing the panel never unmount the phone.
    await page.getByTestId('tabs').locator('a[data-tab="sv"]').click();
    await page.getByTestId('side-menu').locator('a[href="/sv/realtime"]').click();
    await expect(page.getByTestId('realtime')).toBeVisible();
    await page.getByTestId('tabs').locator('a[data-tab="history"]').click();
    await page.getByTestId('toggle-panel').click();
    await expect(page.getByTestId('right-panel')).toBeHidden();
    await expect(page.getByTestId('toggle-panel')).toHaveAttribute('aria-expanded', 'false');
    // An application icon opens the panel again.
    await page.getByTestId('app-phone').click();
    await expect(page.getByTestId('phone-app')).toBeVisible();
    expect(await phoneSurvived()).toBe(true);

    // The side menu collapses (the content widens) and stays so after a reload.
    const content = page.locator('#content');
    const wide = (await content.boundingBox())!.width;
    await page.getByTestId('toggle-menu').click();
    await expect(page.getByTestId('side-menu')).toBeHidden();
    expect((await content.boundingBox())!.width).toBeGreaterThan(wide + 100);
    await page.getByTestId('toggle-panel').click();
    await expect(page.getByTestId('right-panel')).toBeHidden();
    await page.reload();
    await expect(page.getByTestId('tabs')).toBeVisible();
    await expect(page.getByTestId('side-menu')).toBeHidden();
    await expect(page.getByTestId('right-panel')).toBeHidden();
    await page.getByTestId('toggle-menu').click();
    await page.getByTestId('toggle-panel').click();
    await expect(page.getByTestId('side-menu')).toBeVisible();
    await expect(page.getByTestId('phone-app')).toBeVisible();

    // ⑦ The pin: unpinned, the tab menu scrolls away with a long page; pinned, it stays.
    await page.locator('#content').evaluate((el) => {
      const tall = document.createElement('div');
      tall.style.height = '3000px';
      tall.dataset.testid = 'tall';
      el.appendChild(tall);
    });
    const tabs = page.getByTestId('tabs');
    await page.mouse.wheel(0, 2000);
    await expect(tabs).not.toBeInViewport();
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.getByTestId('pin-tabs').click();
    await expect(page.getByTestId('pin-tabs')).toHaveAttribute('aria-pressed', 'true');
    await page.mouse.wheel(0, 2000);
    await expect.poll(() => page.evaluate(() => window.scrollY)).toBeGreaterThan(1000);
    await expect(tabs).toBeInViewport();
    // Keyboard: the pin is a toggle button reachable like any other.
    await page.getByTestId('pin-tabs').focus();
    await page.keyboard.press('Enter');
    await expect(page.getByTestId('pin-tabs')).toHaveAttribute('aria-pressed', 'false');
    await page.keyboard.press('Space');
    await expect(page.getByTestId('pin-tabs')).toHaveAttribute('aria-pressed', 'true');
    await page.reload();
    await expect(page.getByTestId('pin-tabs')).toHaveAttribute('aria-pressed', 'true');
    await expect(page.getByTestId('topbar')).toHaveAttribute('data-pinned', 'true');
  } finally {
    await context.close();
  }
});
