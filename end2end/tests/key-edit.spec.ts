// Editing a key in the console goes through the same operation as `/key/update`: an admin
// changes anything; a team admin changes its team's keys within what the team has, and sees
// no other key.
import { test, expect, APIRequestContext, Locator } from '@playwright/test';
import { landing, logIn } from './session';

const master = { Authorization: `Bearer ${process.env.GATEHOUSE_MASTER_KEY ?? ''}` };

function manage(request: APIRequestContext, path: string, data: object) {
  return request.post(path, { headers: master, data });
}

/** Opens a row's edit form (left open after a refused save, so only when closed). */
async function openEdit(row: Locator) {
  const details = row.locator('details.edit');
  if (!(await details.evaluate((element) => (element as HTMLDetailsElement).open))) {
    await details.locator('summary').click();
  }
}

async function keyInfo(request: APIRequestContext, token: string) {
  const info = await request.get(`/key/info?key=${token}`, { headers: master });
  expect(info.status()).toBe(200);
  return (await info.json()).info;
}

test('an admin edits a key: models, budget, limits, expiry and metadata, as the API then reads them', async ({ page, request }) => {
  const alias = `editable-${Date.now()}`;
  const created = await manage(request, '/key/generate', { key_alias: alias, max_budget: 5 });
  expect(created.status()).toBe(200);
  const token: string = (await created.json()).token_id;

  await logIn(page);
  await page.waitForSelector('body[data-hydrated="true"]');
  const row = page.locator('table.keys tbody tr', { hasText: alias });
  await openEdit(row);
  await row.getByLabel('Allowed models').fill('gpt-4o-mini, gpt-4o');
  await row.getByLabel('Spending cap (USD)').fill('7.5');
  await row.getByLabel('Cap resets every').fill('30d');
  await row.getByLabel('RPM').fill('30');
  await row.getByLabel('In flight at once').fill('3');
  await row.getByLabel('Expire in').fill('30d');
  await row.getByLabel('Metadata').fill('{"owner": "e2e"}');
  await page.screenshot({ path: 'test-results/key-edit-form.png', fullPage: true });
  await row.getByRole('button', { name: 'Save key' }).click();

  await expect(row).toContainText('$7.50 / 30d');
  await expect(row).toContainText('30 rpm · 3 parallel');
  await expect(row).toContainText('gpt-4o-mini, gpt-4o');
  const info = await keyInfo(request, token);
  expect(info).toMatchObject({
    models: ['gpt-4o-mini', 'gpt-4o'], max_budget: 7.5, budget_duration: '30d',
    rpm_limit: 30, max_parallel_requests: 3, metadata: { owner: 'e2e' },
  });
  expect(info.expires).toBeTruthy();

  // The change is audited like an API change: the before and after of the key.
  const audit = await request.get(`/audit/log?action=key.update&target_id=${token}`, { headers: master });
  const entries = (await audit.json()).entries;
  expect(entries.length).toBe(1);
  expect(entries[0].before.max_budget).toBe(5);
  expect(entries[0].after.max_budget).toBe(7.5);

  // A value the operation refuses is answered on the page, not with a broken one.
  await openEdit(row);
  await row.getByLabel('Metadata').fill('[1, 2]');
  await row.getByRole('button', { name: 'Save key' }).click();
  await expect(page.getByRole('alert')).toContainText('Metadata must be a JSON object');
});

test('a team admin edits its team\'s keys within the team\'s limits and sees no other key', async ({ page, request }) => {
  const stamp = Date.now();
  const team = `edit-team-${stamp}`;
  expect((await manage(request, '/team/new', { team_id: team, rpm_limit: 100 })).status()).toBe(200);
  const teamAdmin = { email: `team-admin-${stamp}@e2e.test`, password: 'team-admin-password' };
  const user = await manage(request, '/user/new', {
    user_email: teamAdmin.email, user_role: 'internal_user', password: teamAdmin.password, auto_create_key: false,
  });
  expect(user.status()).toBe(200);
  const userId: string = (await user.json()).user_id;
  expect((await manage(request, '/team/member_add', { team_id: team, member: { user_id: userId, role: 'admin' } })).status()).toBe(200);
  const inTeam = `in-team-${stamp}`;
  const outside = `outside-${stamp}`;
  const teamKey = await manage(request, '/key/generate', { key_alias: inTeam, team_id: team });
  expect(teamKey.status()).toBe(200);
  expect((await manage(request, '/key/generate', { key_alias: outside })).status()).toBe(200);

  await logIn(page, teamAdmin, landing.teamAdmin);
  await page.getByRole('link', { name: 'Keys', exact: true }).click();
  await page.waitForSelector('body[data-hydrated="true"]');
  const row = page.locator('table.keys tbody tr', { hasText: inTeam });
  await expect(row).toBeVisible();
  await expect(page.locator('table.keys tbody tr', { hasText: outside })).toHaveCount(0);

  // More than the team has is refused by the same rule as the API's.
  await openEdit(row);
  await row.getByLabel('RPM').fill('500');
  await row.getByRole('button', { name: 'Save key' }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'rpm_limit' })).toBeVisible();
  expect((await keyInfo(request, (await teamKey.json()).token_id)).rpm_limit).toBeNull();

  await openEdit(row);
  await row.getByLabel('RPM').fill('50');
  await row.getByRole('button', { name: 'Save key' }).click();
  await expect(row).toContainText('50 rpm');
  expect((await keyInfo(request, (await teamKey.json()).token_id)).rpm_limit).toBe(50);
  await page.screenshot({ path: 'test-results/key-edit-team-admin.png', fullPage: true });
});

test('the Keys page pages through more keys than one page holds', async ({ page, request }) => {
  const stamp = Date.now();
  for (let index = 0; index < 101; index++) {
    expect((await manage(request, '/key/generate', { key_alias: `paged-${stamp}-${index}` })).status()).toBe(200);
  }
  await logIn(page);
  // Newest first: the last one made is on the first page, the first one made is not.
  await expect(page.locator('table.keys tbody tr', { hasText: `paged-${stamp}-100` })).toHaveCount(1);
  await expect(page.locator('table.keys tbody tr', { hasText: `paged-${stamp}-0` })).toHaveCount(0);
  await expect(page.locator('table.keys tbody tr')).toHaveCount(100);
  await page.getByRole('link', { name: 'Older keys →' }).click();
  await expect(page).toHaveURL(/\/keys\?page=2$/);
  await expect(page.locator('table.keys tbody tr', { hasText: `paged-${stamp}-0` })).toHaveCount(1);
  await expect(page.getByRole('link', { name: '← Newer keys' })).toBeVisible();
});
