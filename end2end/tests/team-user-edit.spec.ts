// Editing teams and users in the console goes through the same operations as `/team/update`
// and `/user/update`: an admin changes budgets, limits and models; a team admin renames its
// team and changes its metadata and is offered nothing else; finance is offered no edit.
import { test, expect, APIRequestContext, Locator } from '@playwright/test';
import { landing, logIn } from './session';

const master = { Authorization: `Bearer ${process.env.GATEHOUSE_MASTER_KEY ?? ''}` };

function manage(request: APIRequestContext, path: string, data: object) {
  return request.post(path, { headers: master, data });
}

async function read(request: APIRequestContext, path: string) {
  const response = await request.get(path, { headers: master });
  expect(response.status(), path).toBe(200);
  return response.json();
}

/** Opens an edit form (a `<details>`), only when it is closed. */
async function openEdit(scope: Locator) {
  const details = scope.locator('details.edit');
  if (!(await details.evaluate((element) => (element as HTMLDetailsElement).open))) {
    await details.locator('summary').click();
  }
}

test('an admin edits a team\'s budget, limits and models; a team admin renames it and is offered nothing more', async ({ page, browser, request }) => {
  const stamp = Date.now();
  const team = `edit-me-${stamp}`;
  expect((await manage(request, '/team/new', { team_id: team, max_budget: 3 })).status()).toBe(200);

  await logIn(page);
  await page.getByRole('link', { name: 'Teams', exact: true }).click();
  await page.waitForSelector('body[data-hydrated="true"]');
  const card = page.locator(`section.team[data-team="${team}"]`);
  await openEdit(card);
  await card.getByLabel('Team cap (USD)').fill('12');
  await card.getByLabel('Team cap resets every').fill('30d');
  await card.getByLabel('Team RPM').fill('120');
  await card.getByLabel('Team models').fill('gpt-4o-mini');
  await card.getByRole('button', { name: 'Save team' }).click();
  await expect(card).toContainText('$12.00 per 30d');
  await expect(card).toContainText('120');
  const info = (await read(request, `/team/info?team_id=${team}`)).team_info;
  expect(info).toMatchObject({ max_budget: 12, budget_duration: '30d', rpm_limit: 120, models: ['gpt-4o-mini'] });
  await page.screenshot({ path: 'test-results/team-edit-admin.png', fullPage: true });

  // The team's own admin: its name and metadata only.
  const who = { email: `team-editor-${stamp}@e2e.test`, password: 'team-editor-password' };
  const user = await manage(request, '/user/new', { user_email: who.email, user_role: 'internal_user', password: who.password, auto_create_key: false });
  const userId: string = (await user.json()).user_id;
  expect((await manage(request, '/team/member_add', { team_id: team, member: { user_id: userId, role: 'admin' } })).status()).toBe(200);
  const context = await browser.newContext();
  const teamAdmin = await context.newPage();
  await logIn(teamAdmin, who, landing.teamAdmin);
  await teamAdmin.getByRole('link', { name: 'Teams', exact: true }).click();
  await teamAdmin.waitForSelector('body[data-hydrated="true"]');
  const ownCard = teamAdmin.locator(`section.team[data-team="${team}"]`);
  await openEdit(ownCard);
  await expect(ownCard.getByLabel('Team cap (USD)')).toHaveCount(0);
  await expect(ownCard.getByLabel('Team RPM')).toHaveCount(0);
  await ownCard.getByLabel('Team name').fill('Renamed by its admin');
  await ownCard.getByLabel('Team metadata').fill('{"cost_center": "42"}');
  await ownCard.getByRole('button', { name: 'Save team' }).click();
  await expect(ownCard).toContainText('Renamed by its admin');
  const renamed = (await read(request, `/team/info?team_id=${team}`)).team_info;
  expect(renamed).toMatchObject({ team_alias: 'Renamed by its admin', metadata: { cost_center: '42' }, max_budget: 12, rpm_limit: 120 });
  await teamAdmin.screenshot({ path: 'test-results/team-edit-team-admin.png', fullPage: true });
  await context.close();
});

test('an admin edits a user\'s budget and limits; finance is offered no edit', async ({ page, browser, request }) => {
  const stamp = Date.now();
  const email = `edited-user-${stamp}@e2e.test`;
  const created = await manage(request, '/user/new', { user_email: email, user_role: 'internal_user', auto_create_key: false });
  expect(created.status()).toBe(200);
  const userId: string = (await created.json()).user_id;

  await logIn(page);
  await page.getByRole('link', { name: 'Users', exact: true }).click();
  await page.waitForSelector('body[data-hydrated="true"]');
  const row = page.locator('table.users tbody tr', { hasText: email });
  await openEdit(row);
  await row.getByLabel('Display name').fill('Edited in the console');
  await row.getByLabel('User cap (USD)').fill('9');
  await row.getByLabel('User RPM').fill('40');
  await row.getByRole('button', { name: 'Save user' }).click();
  await expect(row).toContainText('of $9.00');
  const info = (await read(request, `/user/info?user_id=${userId}`)).user_info;
  expect(info).toMatchObject({ user_alias: 'Edited in the console', max_budget: 9, rpm_limit: 40 });
  await page.screenshot({ path: 'test-results/user-edit-admin.png', fullPage: true });

  const finance = { email: `finance-users-${stamp}@e2e.test`, password: 'finance-users-password' };
  expect((await manage(request, '/user/new', { user_email: finance.email, user_role: 'finance', password: finance.password, auto_create_key: false })).status()).toBe(200);
  const context = await browser.newContext();
  const financePage = await context.newPage();
  await logIn(financePage, finance, landing.finance);
  await financePage.goto('/users');
  await expect(financePage.locator('table.users tbody tr', { hasText: email })).toBeVisible();
  await expect(financePage.getByRole('button', { name: 'Save user' })).toHaveCount(0);
  await financePage.goto('/teams');
  await expect(financePage.getByRole('button', { name: 'Save team' })).toHaveCount(0);
  await context.close();
});
