// The console's pages for organizations, end users, tags, named budgets and projects: an admin
// creates, edits and deletes through the same operations as the management API (which then
// reads the change); finance reads them and is offered no change; a team admin manages its
// team's projects and is offered none of the admin-only pages.
import { test, expect, APIRequestContext, Page } from '@playwright/test';
import { landing, logIn } from './session';

const master = { Authorization: `Bearer ${process.env.GATEHOUSE_MASTER_KEY ?? ''}` };

function manage(request: APIRequestContext, path: string, data: object) {
  return request.post(path, { headers: master, data });
}

/** One page: where it is, how its create form names the entity, and how the API reads it. */
interface Entity {
  path: string;
  heading: string;
  create: string;
  /** Fills the create form's own fields (not the budget) for `id`. */
  fill: (form: ReturnType<Page['locator']>, id: string) => Promise<void>;
  row: (id: string) => string;
  /** The entity as the API reads it: its `max_budget`. */
  budgetOf: (request: APIRequestContext, id: string) => Promise<number | null>;
}

async function read(request: APIRequestContext, method: 'get' | 'post', path: string, data?: object) {
  const response = method === 'get'
    ? await request.get(path, { headers: master })
    : await request.post(path, { headers: master, data });
  expect(response.status(), path).toBe(200);
  return response.json();
}

const entities: Entity[] = [
  {
    path: '/organizations', heading: 'Organizations', create: 'Create organization',
    fill: async (form, id) => {
      await form.getByLabel(/Organization id/).fill(id);
      await form.getByLabel('Alias').fill(`Org ${id}`);
    },
    row: (id) => `table.organizations tbody tr:has-text("${id}")`,
    budgetOf: async (request, id) => (await read(request, 'get', `/organization/info?organization_id=${id}`)).max_budget,
  },
  {
    path: '/end-users', heading: 'End users', create: 'Create end user',
    fill: async (form, id) => { await form.getByLabel(/End user id/).fill(id); },
    row: (id) => `tr[data-end-user="${id}"]`,
    budgetOf: async (request, id) => (await read(request, 'get', `/customer/info?end_user_id=${id}`)).max_budget,
  },
  {
    path: '/tags', heading: 'Tags', create: 'Create tag',
    fill: async (form, id) => { await form.getByLabel('Tag', { exact: true }).fill(id); },
    row: (id) => `tr[data-tag="${id}"]`,
    budgetOf: async (request, id) => {
      const info = await read(request, 'post', '/tag/info', { names: [id] });
      return info[id].max_budget;
    },
  },
  {
    path: '/named-budgets', heading: 'Named budgets', create: 'Create named budget',
    fill: async (form, id) => { await form.getByLabel(/Budget id/).fill(id); },
    row: (id) => `tr[data-budget="${id}"]`,
    budgetOf: async (request, id) => (await read(request, 'post', '/budget/info', { budgets: [id] }))[0].max_budget,
  },
  {
    path: '/projects', heading: 'Projects', create: 'Create project',
    fill: async (form, id) => { await form.getByLabel(/Project id/).fill(id); },
    row: (id) => `tr[data-project="${id}"]`,
    budgetOf: async (request, id) => (await read(request, 'get', `/project/info?project_id=${id}`)).max_budget,
  },
];

for (const entity of entities) {
  test(`an admin creates, edits and deletes on the ${entity.heading} page, as the API reads it`, async ({ page, request }) => {
    const id = `e2e-${entity.path.slice(1)}-${Date.now()}`;
    await logIn(page);
    await page.goto(entity.path);
    await page.waitForSelector('body[data-hydrated="true"]');
    await expect(page.getByRole('heading', { name: entity.heading, exact: true })).toBeVisible();

    const form = page.locator('form', { has: page.getByRole('button', { name: entity.create }) });
    await entity.fill(form, id);
    await form.getByLabel(/^Budget in USD/).fill('5');
    await form.getByLabel(/^Budget window/).fill('30d');
    await form.getByRole('button', { name: entity.create }).click();
    const row = page.locator(entity.row(id));
    await expect(row).toBeVisible();
    expect(await entity.budgetOf(request, id)).toBe(5);

    await row.getByLabel('Budget in USD', { exact: true }).fill('8.5');
    await row.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => entity.budgetOf(request, id)).toBe(8.5);
    if (entity.path !== '/named-budgets') {
      await expect(row).toContainText('of $8.50');
    }
    await page.screenshot({ path: `test-results/page${entity.path.replace('/', '-')}-admin.png`, fullPage: true });

    await row.getByRole('button', { name: 'Delete' }).click();
    await expect(row).toHaveCount(0);
  });
}

test('finance reads every budgeted page and is offered no change', async ({ page, request }) => {
  const stamp = Date.now();
  const who = { email: `finance-pages-${stamp}@e2e.test`, password: 'finance-pages-password' };
  expect((await manage(request, '/user/new', { user_email: who.email, user_role: 'finance', password: who.password, auto_create_key: false })).status()).toBe(200);
  expect((await manage(request, '/tag/new', { name: `fin-tag-${stamp}`, max_budget: 2 })).status()).toBe(200);
  expect((await manage(request, '/customer/new', { user_id: `fin-user-${stamp}`, max_budget: 3 })).status()).toBe(200);
  await logIn(page, who, landing.finance);
  for (const entity of entities) {
    await page.goto(entity.path);
    await expect(page.getByRole('heading', { name: entity.heading, exact: true })).toBeVisible();
    await expect(page.getByRole('button', { name: entity.create })).toHaveCount(0);
    await expect(page.getByRole('button', { name: 'Save' })).toHaveCount(0);
    await expect(page.getByRole('button', { name: 'Delete' })).toHaveCount(0);
  }
  await page.goto('/tags');
  await expect(page.locator(`tr[data-tag="fin-tag-${stamp}"]`)).toContainText('$0.00 of $2.00');
  await page.goto('/end-users');
  await expect(page.locator(`tr[data-end-user="fin-user-${stamp}"]`)).toContainText('$0.00 of $3.00');
  await page.screenshot({ path: 'test-results/page-end-users-finance.png', fullPage: true });
});

test('a team admin manages its team\'s projects, within the team, and is offered no admin-only page', async ({ page, request }) => {
  const stamp = Date.now();
  const team = `proj-team-${stamp}`;
  expect((await manage(request, '/team/new', { team_id: team, max_budget: 10 })).status()).toBe(200);
  const who = { email: `proj-admin-${stamp}@e2e.test`, password: 'project-admin-password' };
  const user = await manage(request, '/user/new', { user_email: who.email, user_role: 'internal_user', password: who.password, auto_create_key: false });
  expect(user.status()).toBe(200);
  const userId: string = (await user.json()).user_id;
  expect((await manage(request, '/team/member_add', { team_id: team, member: { user_id: userId, role: 'admin' } })).status()).toBe(200);

  await logIn(page, who, landing.teamAdmin);
  for (const link of ['Organizations', 'End users', 'Tags', 'Named budgets']) {
    await expect(page.getByRole('link', { name: link, exact: true })).toHaveCount(0);
  }
  await page.getByRole('link', { name: 'Projects', exact: true }).click();
  await page.waitForSelector('body[data-hydrated="true"]');
  const form = page.locator('form', { has: page.getByRole('button', { name: 'Create project' }) });
  const id = `team-proj-${stamp}`;

  // More than the team has is refused, as `/project/new` refuses it.
  await form.getByLabel(/Project id/).fill(id);
  await form.getByLabel(/Team id/).fill(team);
  await form.getByLabel(/^Budget in USD/).fill('50');
  await form.getByRole('button', { name: 'Create project' }).click();
  await expect(page.getByRole('alert')).toContainText('larger `max_budget`');

  await form.getByLabel(/^Budget in USD/).fill('4');
  await form.getByRole('button', { name: 'Create project' }).click();
  const row = page.locator(`tr[data-project="${id}"]`);
  await expect(row).toContainText(team);
  await row.getByLabel('Budget in USD', { exact: true }).fill('6');
  await row.getByRole('button', { name: 'Save' }).click();
  await expect(row).toContainText('of $6.00');
  await expect(row.getByRole('button', { name: 'Delete' })).toHaveCount(0);
  const info = await (await request.get(`/project/info?project_id=${id}`, { headers: master })).json();
  expect(info).toMatchObject({ team_id: team, max_budget: 6 });
  await page.screenshot({ path: 'test-results/page-projects-team-admin.png', fullPage: true });
});
