import { test, expect, Page, APIRequestContext } from '@playwright/test';

const admin = {
  email: process.env.GATEHOUSE_ADMIN_EMAIL ?? '',
  password: process.env.GATEHOUSE_ADMIN_PASSWORD ?? '',
};

async function logIn(page: Page) {
  await page.goto('/login');
  await page.waitForSelector('body[data-hydrated="true"]');
  await page.getByLabel('Email').fill(admin.email);
  await page.getByLabel('Password').fill(admin.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page).toHaveURL(/\/keys$/);
  await expect(page.getByRole('heading', { name: 'Keys', exact: true })).toBeVisible();
}

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

  const row = page.locator('tbody tr', { hasText: alias });
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
  await expect(page.locator('tbody tr', { hasText: 'forged-key' })).toHaveCount(0);
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
  await expect(page.getByRole('columnheader', { name: 'Spend' })).toBeVisible();
  await expect(page.locator('tbody tr').first()).toBeVisible();
  await context.close();
});
