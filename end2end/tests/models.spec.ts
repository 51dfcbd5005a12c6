import { test, expect, Page, APIRequestContext } from '@playwright/test';
import { logIn } from './session';

const masterKey = process.env.GATEHOUSE_MASTER_KEY ?? '';
const mockApiBase = process.env.MOCK_API_BASE ?? '';
const upstreamKey = 'sk-e2e-upstream-credential';

async function openModelsPage(page: Page) {
  await logIn(page);
  await page.getByRole('link', { name: 'Models & providers' }).click();
  await expect(page).toHaveURL(/\/deployments$/);
  await expect(page.getByRole('heading', { name: 'Models & providers' })).toBeVisible();
}

function chat(request: APIRequestContext, model: string) {
  return request.post('/v1/chat/completions', {
    headers: { Authorization: `Bearer ${masterKey}` },
    data: { model, messages: [{ role: 'user', content: 'hi' }] },
  });
}

test('an admin adds a deployment, sees it with its prices, tests it, edits it and deletes it', async ({ page, request }) => {
  await openModelsPage(page);

  // config.yaml's deployments are listed with their provider, capabilities and catalog prices.
  const configured = page
    .locator('table.deployments tbody tr')
    .filter({ has: page.locator('td:first-child', { hasText: /^claude$/ }) });
  await expect(configured).toContainText('anthropic');
  await expect(configured).toContainText('config.yaml');
  await expect(configured).toContainText('tools');
  await expect(configured).toContainText('$3.00');
  await expect(configured).toContainText('$15.00');

  const name = `e2e-stored-${Date.now()}`;
  const form = page.getByTestId('add-deployment');
  await form.getByLabel('Model name').fill(name);
  await form.getByLabel('Provider model').fill('openai/gpt-4o-mini');
  await form.getByLabel('API base').fill(mockApiBase);
  await form.getByLabel('API key').fill(upstreamKey);
  await form.getByLabel(/^Input \$/).fill('1.5');
  await form.getByLabel(/^Output \$/).fill('6');
  await form.getByRole('button', { name: 'Add deployment' }).click();
  await expect(form.getByRole('status')).toContainText('Saved');

  const row = page.locator('table.deployments tbody tr', { hasText: name });
  await expect(row).toContainText('console');
  await expect(row).toContainText('openai');
  await expect(row).toContainText('vision');
  await expect(row).toContainText('$1.50');
  await expect(row).toContainText('$6.00');
  await expect(page.locator('body')).not.toContainText(upstreamKey);

  await row.getByRole('button', { name: 'Test connection' }).click();
  await expect(row.getByTestId('connection-result')).toContainText(/Connected in \d+ ms: gpt-4o-mini answered/);

  // The gateway serves it, with the stored credential.
  expect((await chat(request, name)).status()).toBe(200);

  // Editing keeps the stored key (blank field) and changes the price.
  await row.getByText('Edit').click();
  await expect(row.getByLabel(/API key \(stored/)).toHaveValue('');
  await row.getByLabel(/^Output \$/).fill('8');
  await row.getByRole('button', { name: 'Save changes' }).click();
  await expect(row).toContainText('$8.00');
  await row.getByRole('button', { name: 'Test connection' }).click();
  await expect(row.getByTestId('connection-result')).toContainText('Connected');

  await row.getByRole('button', { name: 'Delete' }).click();
  await expect(row).toHaveCount(0);
  await expect.poll(async () => (await chat(request, name)).status()).toBe(404);
});

test('a failing upstream and a bad deployment are reported, not stored', async ({ page }) => {
  await openModelsPage(page);
  const form = page.getByTestId('add-deployment');

  await form.getByLabel('Model name').fill(`e2e-bad-${Date.now()}`);
  await form.getByLabel('Provider model').fill('gpt-4o-mini');
  await form.getByRole('button', { name: 'Add deployment' }).click();
  await expect(form.getByRole('alert')).toContainText('provider/model-id');

  const failing = `e2e-failing-${Date.now()}`;
  await form.getByLabel('Model name').fill(failing);
  await form.getByLabel('Provider model').fill('openai/mock-fail-500');
  await form.getByLabel('API base').fill(mockApiBase);
  await form.getByRole('button', { name: 'Add deployment' }).click();
  const row = page.locator('table.deployments tbody tr', { hasText: failing });
  await row.getByRole('button', { name: 'Test connection' }).click();
  await expect(row.getByTestId('connection-result')).toContainText(/Failed in \d+ ms: 502/);
  await row.getByRole('button', { name: 'Delete' }).click();
  await expect(row).toHaveCount(0);
});
