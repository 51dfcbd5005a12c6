import { test, expect, Locator, Page, APIRequestContext } from '@playwright/test';
import { logIn } from './session';

const masterKey = process.env.GATEHOUSE_MASTER_KEY ?? '';

function chat(request: APIRequestContext, model: string, headers: Record<string, string> = {}) {
  return request.post('/v1/chat/completions', {
    headers: { Authorization: `Bearer ${masterKey}`, ...headers },
    data: { model, messages: [{ role: 'user', content: 'hi' }] },
  });
}

async function openRoutesPage(page: Page) {
  await logIn(page);
  await page.getByRole('link', { name: 'Routes' }).click();
  await expect(page).toHaveURL(/\/routes$/);
  await expect(page.getByRole('heading', { name: 'Routes', exact: true })).toBeVisible();
}

function group(page: Page, name: string) {
  return page.locator(`section.route-group[data-group="${name}"]`);
}

/**
 * Clicks a form's submit button and waits until the page has fetched the routes again, so the
 * next step sees the routes as they are after the save.
 */
async function submit(page: Page, button: Locator) {
  const refetched = page.waitForResponse((response) => response.url().includes('/api/list_routes'));
  await button.click();
  await refetched;
}

/** Opens a form's `<details>` unless it is open (a save keeps it as it was). */
async function open(details: Locator) {
  if (!(await details.evaluate((element) => (element as HTMLDetailsElement).open))) {
    await details.locator('summary').click();
  }
}

/** Opens a group's fallback form, fills the general chain and saves it. */
async function saveFallbacks(page: Page, name: string, fallbacks: string) {
  const section = group(page, name);
  await open(section.locator('details.edit'));
  await section.getByLabel(/^Fallbacks/).fill(fallbacks);
  await submit(page, section.getByRole('button', { name: 'Save fallbacks' }));
}

test('an admin changes routing on the Routes page and the gateway routes by it at once', async ({ page, request }) => {
  await openRoutesPage(page);
  // A run that stopped half-way left its changes: start from config.yaml's routing.
  await expect(page.getByTestId('route-origin')).toBeVisible();
  const reset = page.getByRole('button', { name: 'Reset to config.yaml' });
  if (await reset.count()) {
    await submit(page, reset);
  }
  await expect(page.getByTestId('route-origin')).toContainText("config.yaml's routing, unchanged");

  // Every group with its deployments, their health and chains.
  const failing = group(page, 'fail-500');
  await expect(failing.locator('tbody tr')).toHaveCount(1);
  await expect(failing).toContainText('mock-fail-500');
  await expect(failing.getByTestId('health')).toHaveText(/healthy|cooling down|half-open/);
  await expect(group(page, 'embed')).toContainText('embedding');

  // Router settings: one failure within a minute cools a deployment down for a minute.
  await open(page.locator('details.edit', { hasText: 'Edit router settings' }));
  await page.getByLabel('Allowed fails per minute').fill('0');
  await page.getByLabel('Cooldown seconds').fill('60');
  await submit(page, page.getByRole('button', { name: 'Save settings' }));
  await expect(page.getByTestId('settings-outcome')).toContainText('Saved');
  const settings = page.getByTestId('router-settings');
  await expect(settings).toContainText('more than 0 failures within a minute cool a deployment down for 60 s');
  await expect(settings).toContainText('console');

  // Without a fallback the failing group fails.
  expect((await chat(request, 'fail-500')).status()).toBe(502);

  // A fallback chain, saved and served without a restart.
  await saveFallbacks(page, 'fail-500', 'gpt-4o-mini');
  await expect(page.getByTestId('groups-outcome')).toContainText('Saved');
  await expect(failing.locator('dd').first()).toContainText('gpt-4o-mini');
  await expect(failing.locator('dd').first()).toContainText('console');
  const rerouted = await chat(request, 'fail-500');
  expect(rerouted.status()).toBe(200);
  expect(rerouted.headers()['x-litellm-model-group']).toBe('gpt-4o-mini');

  // The failure cooled the deployment down: the page shows until when.
  await submit(page, page.getByRole('button', { name: 'Refresh' }));
  await expect(failing.getByTestId('health')).toContainText(/cooling down until \d\d:\d\d:\d\d UTC/);

  // Refused: a circle, a group of another kind, a group nobody serves.
  await saveFallbacks(page, 'gpt-4o-mini', 'fail-500');
  await expect(page.getByTestId('groups-outcome').getByRole('alert')).toContainText(
    'fallbacks go round in a circle: fail-500 → gpt-4o-mini → fail-500',
  );
  await saveFallbacks(page, 'gpt-4o-mini', 'embed');
  await expect(page.getByTestId('groups-outcome').getByRole('alert')).toContainText(
    '`gpt-4o-mini` serves chat requests, which `embed` (embedding) cannot serve',
  );
  await saveFallbacks(page, 'gpt-4o-mini', 'no-such-group');
  await expect(page.getByTestId('groups-outcome').getByRole('alert')).toContainText(
    '`gpt-4o-mini` falls back to `no-such-group`, which no deployment serves',
  );
  // Nothing refused was stored: the gateway still falls back to gpt-4o-mini.
  await expect(group(page, 'gpt-4o-mini').locator('dd').first()).toHaveText('none');
  expect((await chat(request, 'fail-500')).headers()['x-litellm-model-group']).toBe('gpt-4o-mini');

  // A request class sends every model to gpt-4o-mini.
  const add = page.getByTestId('add-class');
  await open(add);
  await add.getByLabel('Class name').fill('batch-cheap');
  await add.getByLabel(/^Model groups/).fill('*=gpt-4o-mini');
  await add.getByLabel('Strategy').selectOption('cost-based-routing');
  await submit(page, add.getByRole('button', { name: 'Add class' }));
  await expect(page.getByTestId('class-outcome')).toContainText('Saved');
  const row = page.locator('tr[data-class="batch-cheap"]');
  await expect(row).toContainText('*=gpt-4o-mini');
  await expect(row).toContainText('cost-based-routing');
  const cheap = await chat(request, 'claude', { 'x-gatehouse-request-class': 'batch-cheap' });
  expect(cheap.status()).toBe(200);
  expect(cheap.headers()['x-gatehouse-request-class']).toBe('batch-cheap');
  expect(cheap.headers()['x-litellm-model-group']).toBe('gpt-4o-mini');

  // A class that degrades to a class that does not exist is refused.
  await open(row.locator('details.edit'));
  await row.getByLabel('Degrade at % of budget').fill('80');
  await row.getByLabel('Degrade to class').fill('nowhere');
  await submit(page, row.getByRole('button', { name: 'Save class' }));
  await expect(page.getByTestId('class-outcome').getByRole('alert')).toContainText('`nowhere` is not a request class');

  // A class a key is pinned to cannot be deleted while the key works.
  const admin = { Authorization: `Bearer ${masterKey}` };
  const pinned = await request.post('/key/generate', { headers: admin, data: { metadata: { request_class: 'batch-cheap' } } });
  expect(pinned.status()).toBe(200);
  await submit(page, page.locator('tr[data-class="batch-cheap"]').getByRole('button', { name: 'Delete' }));
  await expect(page.getByTestId('class-delete-outcome').getByRole('alert')).toContainText('pinned to `batch-cheap`');
  const revoked = await request.post('/key/delete', { headers: admin, data: { keys: [(await pinned.json()).key] } });
  expect(revoked.status()).toBe(200);

  await submit(page, page.locator('tr[data-class="batch-cheap"]').getByRole('button', { name: 'Delete' }));
  await expect(page.locator('tr[data-class="batch-cheap"]')).toHaveCount(0);

  // Reset: config.yaml's routing again.
  await submit(page, page.getByRole('button', { name: 'Reset to config.yaml' }));
  await expect(page.getByTestId('route-origin')).toContainText("config.yaml's routing, unchanged");
  await expect(group(page, 'fail-500').locator('dd').first()).toHaveText('none');
  await expect(page.getByTestId('router-settings')).not.toContainText('console');
  // (It is still cooling down, so it is refused without an upstream call.)
  expect((await chat(request, 'fail-500')).status()).not.toBe(200);
});
