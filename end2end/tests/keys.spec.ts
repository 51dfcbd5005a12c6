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

  await row.getByRole('button', { name: 'Revoke' }).click();
  await expect(row).toContainText('revoked');
  await expect(row.getByRole('button', { name: 'Revoke' })).toHaveCount(0);
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
