// RT-11: a supervisor edits an agent's skill level in the realtime agent list, from the
// keyboard; a wrong value is refused beside the field; the ACD's realtime data follows.
// Against a running `tsunagu serve --demo` (TSUNAGU_URL).

import { expect, test, type Page } from '@playwright/test';
import { login } from './session';

const GROUP = 1;


async function openDetail(page: Page) {
  await page.goto('/sv/realtime');
  await page.getByTestId(`rt-row-${GROUP}`).getByTestId('open-detail').click();
  await expect(page.getByTestId('rt-agents')).toBeVisible();
}

/** The skill level the realtime data (the ACD's projection) reports for `agent`. */
async function projected(page: Page, agent: number): Promise<number | undefined> {
  const res = await page.request.get(`/api/v1/realtime?group=${GROUP}`);
  const body = (await res.json()) as { detail: { agents: { agent: number; skill_level: number }[] } };
  return body.detail.agents.find((a) => a.agent === agent)?.skill_level;
}

test('skill level: edited inline with the keyboard, validated, applied live', async ({ page }) => {
  await login(page, 'sv01');
  const members = (await (await page.request.get(`/api/v1/presence/groups/${GROUP}`)).json()) as {
    items: { id: number; extension: string }[];
  };
  const agent = members.items.find((m) => m.extension === '202')!.id;
  await openDetail(page);
  const input = page.getByTestId(`rt-skill-${agent}`);
  await expect(input).toHaveAccessibleName('鈴木 二郎 のスキルレベル');

  try {
    // Type a new level and press Enter: saved, and the ACD's data follows within seconds.
    await input.fill('5');
    await input.press('Enter');
    await expect(input).toHaveValue('5');
    await expect.poll(() => projected(page, agent), { timeout: 5000 }).toBe(5);
    await page.reload();
    await page.getByTestId(`rt-row-${GROUP}`).getByTestId('open-detail').click();
    await expect(page.getByTestId(`rt-skill-${agent}`)).toHaveValue('5');

    // Out of range: the message is beside the field, nothing is saved, Escape restores.
    await input.fill('100');
    await input.press('Enter');
    const error = page.getByTestId(`rt-skill-error-${agent}`);
    await expect(error).toHaveText('0〜99 の整数を入力してください。');
    await expect(input).toHaveAttribute('aria-invalid', 'true');
    await expect(input).toHaveAccessibleDescription('0〜99 の整数を入力してください。');
    await input.press('Escape');
    await expect(error).toBeHidden();
    await expect(input).toHaveValue('5');
    expect(await projected(page, agent)).toBe(5);

    // Leaving the field saves too (Tab to the next agent's level).
    await input.fill('3');
    await input.press('Tab');
    await expect.poll(() => projected(page, agent), { timeout: 5000 }).toBe(3);
  } finally {
    // Back to the demo's level.
    await input.fill('0');
    await input.press('Enter');
    await expect.poll(() => projected(page, agent), { timeout: 5000 }).toBe(0);
  }
});
