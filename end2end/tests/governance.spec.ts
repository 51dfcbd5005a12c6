// The governance pages: Users, Budgets and Audit log, as an admin (who changes things) and as
// finance (who reads them and changes nothing, also when it forges the form post).
import { test, expect, APIRequestContext } from '@playwright/test';
import { landing, logIn } from './session';

const masterKey = process.env.GATEHOUSE_MASTER_KEY ?? '';

function manage(request: APIRequestContext, path: string, data: object) {
  return request.post(path, { headers: { Authorization: `Bearer ${masterKey}` }, data });
}

/** A finance user made through the management API, with a console password. */
async function financeUser(request: APIRequestContext) {
  const who = { email: `finance-${Date.now()}@e2e.test`, password: 'finance-password-e2e' };
  const created = await manage(request, '/user/new', {
    user_email: who.email,
    user_role: 'finance',
    password: who.password,
    auto_create_key: false,
  });
  expect(created.status()).toBe(200);
  return who;
}

test('an admin creates a user, changes its role, sees budgets with their bars, and finds both changes in the audit log', async ({ page, request }) => {
  // A key with a hard and a soft budget, so the Budgets page has a row to show.
  const alias = `budgeted-${Date.now()}`;
  const key = await manage(request, '/key/generate', { key_alias: alias, max_budget: 5, soft_budget: 4 });
  expect(key.status()).toBe(200);

  await logIn(page);
  await page.getByRole('link', { name: 'Users', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'Users', exact: true })).toBeVisible();
  const email = `viewer-${Date.now()}@e2e.test`;
  const create = page.locator('form', { has: page.getByRole('button', { name: 'Create user' }) });
  await create.getByLabel('Email').fill(email);
  await create.getByLabel('Role').selectOption('viewer');
  await create.getByLabel(/Password/).fill('viewer-password-e2e');
  await create.getByRole('button', { name: 'Create user' }).click();
  const row = page.locator('table.users tbody tr', { hasText: email });
  await expect(row).toContainText('viewer');
  await expect(row).toContainText('yes');

  await row.locator('select[name="role"]').selectOption('finance');
  await row.getByRole('button', { name: 'Set role' }).click();
  await expect(row.locator('td').nth(1)).toHaveText('finance');

  // The admin cannot change its own role from the console.
  const self = page.locator('table.users tbody tr', { hasText: 'admin@e2e.test' });
  await self.locator('select[name="role"]').selectOption('viewer');
  await self.getByRole('button', { name: 'Set role' }).click();
  await expect(page.getByRole('alert')).toContainText('Nobody changes their own role');
  await expect(self.locator('td').nth(1)).toHaveText('admin');

  await page.getByRole('link', { name: 'Budgets', exact: true }).click();
  const budget = page.locator('table.budgets tbody tr', { hasText: alias });
  await expect(budget).toContainText('$5.00');
  await expect(budget).toContainText('$4.00');
  await expect(budget.locator('[role="meter"]')).toHaveAttribute('aria-valuenow', '0');
  await expect(budget.locator('.soft-mark')).toHaveAttribute('style', /left: 80%/);
  await page.screenshot({ path: 'test-results/budgets.png', fullPage: true });

  await page.getByRole('link', { name: 'Audit log' }).click();
  await page.getByLabel('Action').fill('user.update');
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(/action=user\.update/);
  const entries = page.locator('table.audit tbody tr');
  await expect(entries.first()).toContainText('"role":"finance"');
  // The console acts under the same name as the admin's keys: `user:<user_id>`.
  const listed = await (await request.get('/user/list?page_size=100', { headers: { Authorization: `Bearer ${masterKey}` } })).json();
  const adminId = listed.users.find((user: { user_email: string }) => user.user_email === 'admin@e2e.test').user_id;
  await expect(entries.first()).toContainText(`admin@e2e.test (user:${adminId})`);
  for (const action of await entries.locator('td:nth-child(3)').allTextContents()) {
    expect(action).toBe('user.update');
  }
  await page.screenshot({ path: 'test-results/audit.png', fullPage: true });
});

test('finance reads teams, users, budgets and the audit log but cannot change anything', async ({ page, request }) => {
  const finance = await financeUser(request);
  const teamId = `finance-view-${Date.now()}`;
  expect((await manage(request, '/team/new', { team_id: teamId, max_budget: 3 })).status()).toBe(200);
  await logIn(page, finance, landing.finance);
  // Keys are an admin's: finance is not offered the page, and going there leads back.
  await expect(page.getByRole('link', { name: 'Keys', exact: true })).toHaveCount(0);
  await page.goto('/keys');
  await expect(page).toHaveURL(landing.finance.path);
  await expect(page.getByRole('button', { name: 'Create key' })).toHaveCount(0);

  await page.goto('/users');
  await expect(page.locator('table.users tbody tr', { hasText: finance.email })).toContainText('finance');
  await expect(page.getByRole('button', { name: 'Create user' })).toHaveCount(0);
  await expect(page.getByRole('button', { name: 'Set role' })).toHaveCount(0);

  await page.goto('/teams');
  await expect(page.locator(`section.team[data-team="${teamId}"]`)).toContainText('$3.00');
  await expect(page.getByRole('button', { name: 'Create team' })).toHaveCount(0);
  await expect(page.getByRole('button', { name: 'Add member' })).toHaveCount(0);
  await expect(page.getByRole('button', { name: 'Block team' })).toHaveCount(0);

  await page.goto('/budgets');
  await expect(page.locator('table.budgets tbody tr').first()).toBeVisible();
  await page.goto('/audit');
  await expect(page.locator('table.audit tbody tr').first()).toBeVisible();

  // Forged posts with finance's own valid CSRF token are refused by role on the server.
  const session = await page.request.post('/api/get_session_info', { form: {} });
  const csrf = (await session.json()).csrf_token as string;
  expect(csrf).toBeTruthy();
  const forged = await page.request.post('/api/create_user', {
    form: { csrf, email: 'forged@e2e.test', role: 'admin', password: 'forged-password-123' },
  });
  expect(forged.ok()).toBe(false);
  expect(await forged.text()).toContain('Forbidden');
  const promote = await page.request.post('/api/change_role', {
    form: { csrf, user_id: 'anyone', role: 'admin' },
  });
  expect(promote.ok()).toBe(false);
  expect(await promote.text()).toContain('Forbidden');
  await page.goto('/users');
  await expect(page.locator('table.users tbody tr', { hasText: 'forged@e2e.test' })).toHaveCount(0);
});

test('an admin creates a team with a budget, adds a member with a budget in the team, and blocks the team', async ({ page, request }) => {
  const member = `member-${Date.now()}@e2e.test`;
  const created = await manage(request, '/user/new', { user_email: member, auto_create_key: false });
  expect(created.status()).toBe(200);
  const teamId = `team-${Date.now()}`;

  await logIn(page);
  await page.getByRole('link', { name: 'Teams' }).click();
  const create = page.locator('form', { has: page.getByRole('button', { name: 'Create team' }) });
  await create.getByLabel(/Team id/).fill(teamId);
  await create.getByLabel('Alias').fill('E2E team');
  await create.getByLabel(/Team budget/).fill('20');
  await create.getByLabel(/Budget window/).fill('30d');
  await create.getByRole('button', { name: 'Create team' }).click();
  const card = page.locator(`section.team[data-team="${teamId}"]`);
  await expect(card).toContainText('$20.00 per 30d');

  await card.getByLabel('Member email').fill(member);
  await card.getByLabel('Role').selectOption('admin');
  await card.getByLabel(/Budget in team/).fill('5');
  await card.getByRole('button', { name: 'Add member' }).click();
  const row = card.locator(`tr[data-member="${member}"]`);
  await expect(row).toContainText('admin');
  await expect(row).toContainText('$5.00');

  // The API sees what the console did.
  const info = await request.get(`/team/info?team_id=${teamId}`, { headers: { Authorization: `Bearer ${masterKey}` } });
  const members = (await info.json()).team_info.members_with_roles;
  expect(members).toEqual([expect.objectContaining({ user_email: member, role: 'admin', max_budget_in_team: 5 })]);

  await card.getByRole('button', { name: 'Block team' }).click();
  await expect(card.locator('h2')).toContainText('blocked');
  await card.getByRole('button', { name: 'Unblock team' }).click();
  await expect(card.locator('h2')).not.toContainText('blocked');
  await page.screenshot({ path: 'test-results/teams.png', fullPage: true });
});
