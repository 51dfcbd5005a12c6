import { test, expect, APIRequestContext } from '@playwright/test';
import { admin, logIn } from './session';

function chat(request: APIRequestContext, key: string) {
  return request.post('/v1/chat/completions', {
    headers: { Authorization: `Bearer ${key}` },
    data: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] },
  });
}

test('an admin logs in, creates a key, sees it listed, uses it and revokes it', async ({ page, context, request }) => {
  await page.goto('/login');
  const before = (await context.cookies()).find((cookie) => cookie.name === 'gatehouse_session');
  await logIn(page);
  const after = (await context.cookies()).find((cookie) => cookie.name === 'gatehouse_session');
  expect(after?.httpOnly).toBe(true);
  expect(after?.sameSite).toBe('Lax');
  expect(after?.value).not.toBe(before?.value);

  const alias = `e2e-${Date.now()}`;
  await page.getByLabel('Alias').fill(alias);
  await page.getByLabel(/Max budget/).fill('5');
  await page.getByRole('button', { name: 'Create key' }).click();
  const secret = (await page.getByTestId('new-key-secret').textContent()) ?? '';
  expect(secret).toMatch(/^sk-[0-9a-f]{64}$/);

  const row = page.locator('table.keys tbody tr', { hasText: alias });
  await expect(row).toContainText('active');
  await expect(row).toContainText('$5.00');
  await expect(row).not.toContainText(secret.slice(10, 50));

  expect((await chat(request, secret)).status()).toBe(200);

  // Revoked: gone from the keys one manages, as from `/key/list`, and refused.
  await row.getByRole('button', { name: 'Revoke' }).click();
  await expect(row).toHaveCount(0);
  await expect.poll(async () => (await chat(request, secret)).status()).toBe(401);
});

test('a wrong password is refused', async ({ page }) => {
  await page.goto('/login');
  await page.waitForSelector('body[data-hydrated="true"]');
  await page.getByLabel('Email').fill(admin.email);
  await page.getByLabel('Password').fill('not-the-password');
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByRole('alert')).toHaveText('Incorrect email or password.');
  await expect(page).toHaveURL(/\/login$/);
});

test('a form post without the session CSRF token is refused', async ({ page }) => {
  await logIn(page);
  const action = await page.locator('form', { has: page.getByRole('button', { name: 'Create key' }) }).getAttribute('action');
  expect(action).toBeTruthy();
  const forged = await page.request.post(action ?? '', {
    form: { csrf: 'forged', key_alias: 'forged-key', models: '', max_budget: '', duration: '' },
  });
  expect(forged.ok()).toBe(false);
  expect(await forged.text()).toContain('InvalidCsrf');
  await page.reload();
  await expect(page.locator('table.keys tbody tr', { hasText: 'forged-key' })).toHaveCount(0);
});

test('logging out ends the session', async ({ page }) => {
  await logIn(page);
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  await page.goto('/keys');
  await expect(page).toHaveURL(/\/login$/);
});

test('the keys page reads without JavaScript', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto('/keys');
  await expect(page).toHaveURL(/\/login$/);
  await page.getByLabel('Email').fill(admin.email);
  await page.getByLabel('Password').fill(admin.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page).toHaveURL(/\/keys$/);
  await expect(page.locator('table.keys').getByRole('columnheader', { name: 'Spend' })).toBeVisible();
  await expect(page.locator('table.keys tbody tr').first()).toBeVisible();
  // Without JavaScript the daily spend shows as its table, one row per day.
  await expect(page.getByTestId('daily-spend').locator('tbody tr')).toHaveCount(14);
  await expect(page.locator('#daily-spend-chart')).not.toHaveAttribute('data-drawn', 'true');
  await context.close();
});

test('the daily spend chart is drawn with the figures of the spend log', async ({ page, request }) => {
  const master = { Authorization: `Bearer ${process.env.GATEHOUSE_MASTER_KEY ?? ''}` };
  const created = await request.post('/key/generate', {
    headers: master,
    data: { key_alias: `chart-${Date.now()}` },
  });
  expect(created.status()).toBe(200);
  const key: string = (await created.json()).key;
  for (let call = 0; call < 3; call++) {
    expect((await chat(request, key)).status()).toBe(200);
  }
  const keySpend = async () => {
    const info = await request.get(`/key/info?key=${key}`, { headers: master });
    return (await info.json()).info.spend_micros as number;
  };
  await expect.poll(keySpend).toBeGreaterThan(0);

  await logIn(page);
  await page.waitForSelector('body[data-hydrated="true"]');
  const today = new Date().toISOString().slice(0, 10);
  const todayRow = page.getByTestId('daily-spend').locator(`tbody tr[data-day="${today}"]`);
  const todaySpendMicros = Number(await todayRow.getAttribute('data-spend-micros'));
  expect(todaySpendMicros).toBeGreaterThanOrEqual(await keySpend());
  expect(Number(await todayRow.locator('td').nth(2).textContent())).toBeGreaterThanOrEqual(3);

  const chart = page.locator('#daily-spend-chart');
  await expect(chart).toHaveAttribute('data-drawn', 'true');
  await expect(chart.locator('canvas')).toHaveCount(1);
  const drawn = await chart.evaluate((element) => {
    const option = (window as any).echarts.getInstanceByDom(element).getOption();
    return { days: option.xAxis[0].data as string[], dollars: option.series[0].data as number[] };
  });
  const rows = await page.getByTestId('daily-spend').locator('tbody tr').evaluateAll((trs) =>
    trs.map((tr) => ({ day: tr.getAttribute('data-day'), micros: Number(tr.getAttribute('data-spend-micros')) })),
  );
  expect(drawn.days).toEqual(rows.map((row) => row.day).reverse());
  expect(drawn.dollars).toEqual(rows.map((row) => row.micros / 1e6).reverse());
  expect(drawn.days[drawn.days.length - 1]).toBe(today);
});

test('an admin creates a team key with a budget window and limits, rotates it with a grace period, blocks and unblocks it', async ({ page, request }) => {
  const master = { Authorization: `Bearer ${process.env.GATEHOUSE_MASTER_KEY ?? ''}` };
  const team = `keys-team-${Date.now()}`;
  expect((await request.post('/team/new', { headers: master, data: { team_id: team } })).status()).toBe(200);
  await logIn(page);
  const alias = `limited-${Date.now()}`;
  await page.getByLabel('Alias').fill(alias);
  await page.getByLabel(/Max budget/).fill('5');
  await page.getByLabel(/Soft budget/).fill('4');
  await page.getByLabel(/Budget window/).fill('30d');
  await page.getByLabel(/Team id/).fill(team);
  await page.getByLabel('Requests per minute').fill('60');
  await page.getByLabel('Parallel requests').fill('4');
  await page.getByRole('button', { name: 'Create key' }).click();
  const first = (await page.getByTestId('new-key-secret').textContent()) ?? '';
  expect(first).toMatch(/^sk-[0-9a-f]{64}$/);
  const row = page.locator('table.keys tbody tr', { hasText: alias });
  await expect(row).toContainText(team);
  await expect(row).toContainText('$5.00 / 30d (soft $4.00)');
  await expect(row).toContainText('60 rpm · 4 parallel');
  expect((await chat(request, first)).status()).toBe(200);
  // The key as the API sees it: the same team, budget window and limits.
  const info = await (await request.get(`/key/info?key=${first}`, { headers: master })).json();
  expect(info.info).toMatchObject({ team_id: team, max_budget: 5, soft_budget: 4, budget_duration: '30d', rpm_limit: 60, max_parallel_requests: 4 });

  // Rotated with an hour's grace: the new secret is shown once and both work.
  await row.getByLabel('Grace period').fill('1h');
  await row.getByRole('button', { name: 'Rotate' }).click();
  const second = (await page.getByTestId('rotated-key-secret').textContent()) ?? '';
  expect(second).toMatch(/^sk-[0-9a-f]{64}$/);
  expect(second).not.toBe(first);
  expect((await chat(request, second)).status()).toBe(200);
  expect((await chat(request, first)).status()).toBe(200);
  await page.screenshot({ path: 'test-results/keys-rotated.png', fullPage: true });

  // Blocked: refused (401 blocked_api_key); unblocked: served again.
  await row.getByRole('button', { name: 'Block' }).click();
  await expect(row).toContainText('blocked');
  await expect.poll(async () => (await chat(request, second)).status()).toBe(401);
  await row.getByRole('button', { name: 'Unblock' }).click();
  await expect(row.getByRole('button', { name: 'Block' })).toBeVisible();
  await expect.poll(async () => (await chat(request, second)).status()).toBe(200);
});
