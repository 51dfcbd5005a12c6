// The spend pages: Overview and Spend draw their charts from the figures on the page, finance
// answers "what did project X spend on model Y, by day" in two clicks and downloads it, changes
// nothing, and the Logs page finds a request and shows it in full. Screenshots are artifacts.
import { readFileSync } from 'fs';
import { test, expect, APIRequestContext, Page } from '@playwright/test';
import { landing, logIn } from './session';

// Browser errors (a failed hydration, say) go to the test's output.
test.beforeEach(({ page }) => {
  page.on('console', (message) => {
    if (message.type() === 'error') console.log(`browser error at ${page.url()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => console.log(`page error at ${page.url()}: ${error.message}`));
});

const master = { Authorization: `Bearer ${process.env.GATEHOUSE_MASTER_KEY ?? ''}` };

function manage(request: APIRequestContext, path: string, data: object) {
  return request.post(path, { headers: master, data });
}

function chat(request: APIRequestContext, key: string, model: string) {
  return request.post('/v1/chat/completions', {
    headers: { Authorization: `Bearer ${key}` },
    data: { model, messages: [{ role: 'user', content: 'hi' }] },
  });
}

/** A team, a project with a budget, a key in it and traffic on two models; waits until the
 * rows landed. */
async function projectWithTraffic(request: APIRequestContext) {
  const stamp = Date.now();
  const teamId = `spend-team-${stamp}`;
  const projectId = `spend-proj-${stamp}`;
  expect((await manage(request, '/team/new', { team_id: teamId, team_alias: `Spend team ${stamp}` })).status()).toBe(200);
  const project = await manage(request, '/project/new', {
    project_id: projectId,
    project_alias: `Chatbot ${stamp}`,
    team_id: teamId,
    max_budget: 25,
  });
  expect(project.status(), await project.text()).toBe(200);
  const created = await manage(request, '/key/generate', {
    team_id: teamId,
    project_id: projectId,
    key_alias: `spend-key-${stamp}`,
  });
  expect(created.status()).toBe(200);
  const key: string = (await created.json()).key;
  for (const model of ['gpt-4o-mini', 'gpt-4o-mini', 'gpt-4o-mini', 'claude']) {
    expect((await chat(request, key, model)).status()).toBe(200);
  }
  await expect
    .poll(async () => {
      const rows = await request.get(`/spend/logs?api_key=${key}`, { headers: master });
      return (await rows.json()).length;
    })
    .toBe(4);
  return { teamId, projectId, projectAlias: `Chatbot ${stamp}`, key, keyAlias: `spend-key-${stamp}` };
}

/** Waits until the chart in `selector` is drawn and returns the sum of its series' values. */
async function drawnTotal(page: Page, selector: string) {
  const chart = page.locator(selector);
  await expect(chart).toHaveAttribute('data-drawn', 'true');
  await expect(chart.locator('canvas')).toHaveCount(1);
  const box = await chart.boundingBox();
  expect(box && box.width > 100 && box.height > 100).toBeTruthy();
  return chart.evaluate((element) => {
    const option = (window as any).echarts.getInstanceByDom(element).getOption();
    let total = 0;
    for (const series of option.series) {
      for (const point of series.data) {
        total += typeof point === 'number' ? point : Number(point.value);
      }
    }
    return total;
  });
}

async function financeUser(request: APIRequestContext) {
  const who = { email: `spend-finance-${Date.now()}@e2e.test`, password: 'finance-password-e2e' };
  const created = await manage(request, '/user/new', {
    user_email: who.email,
    user_role: 'finance',
    password: who.password,
    auto_create_key: false,
  });
  expect(created.status()).toBe(200);
  return who;
}

test('the Overview page shows spend, requests and latency with its charts drawn', async ({ page, request }) => {
  await projectWithTraffic(request);
  await logIn(page);
  await page.goto('/overview');
  await page.waitForSelector('body[data-hydrated="true"]');
  const stats = page.getByTestId('overview-stats');
  await expect(stats.locator('[data-stat="requests-today"] .value')).not.toHaveText('0');
  await expect(stats.locator('[data-stat="latency"] .value')).toContainText('ms');
  for (const chart of ['#overview-spend', '#overview-teams', '#overview-models', '#overview-providers']) {
    expect(await drawnTotal(page, chart)).toBeGreaterThan(0);
  }
  // The figures behind the line are on the page: its last point is today's row.
  const today = new Date().toISOString().slice(0, 10);
  const todayMicros = Number(await page.locator(`tr[data-day="${today}"]`).first().getAttribute('data-spend-micros'));
  const lastPoint = await page.locator('#overview-spend').evaluate((element) => {
    const data = (window as any).echarts.getInstanceByDom(element).getOption().series[0].data;
    return data[data.length - 1];
  });
  expect(lastPoint).toBeCloseTo(todayMicros / 1e6, 6);
  await page.waitForTimeout(1500); // let the charts' entry animation finish for the picture
  await page.screenshot({ path: 'test-results/overview.png', fullPage: true });
});

test('finance finds a project\'s spend on a model by day in two clicks, downloads it, and changes nothing', async ({ page, request }) => {
  const traffic = await projectWithTraffic(request);
  const finance = await financeUser(request);
  await logIn(page, finance, landing.finance);
  await page.goto('/spend');
  await page.waitForSelector('body[data-hydrated="true"]');
  expect(await drawnTotal(page, '#spend-bars')).toBeGreaterThan(0);

  // Click 1: the project, in the table of this month's spend per project.
  await page.getByTestId('spend-groups').getByRole('link', { name: traffic.projectAlias }).click();
  await expect(page).toHaveURL(new RegExp(`project_id=${traffic.projectId}`));
  await expect(page).toHaveURL(/group_by=model/);
  await page.waitForSelector('body[data-hydrated="true"]');
  const today = new Date().toISOString().slice(0, 10);
  const row = page.getByTestId('spend-rows').locator(`tr[data-period="${today}"][data-group="gpt-4o-mini"]`);
  await expect(row.locator('td').nth(2)).toHaveText('3');
  const rowMicros = Number(await row.getAttribute('data-spend-micros'));
  expect(rowMicros).toBeGreaterThan(0);
  expect(await drawnTotal(page, '#spend-bars')).toBeCloseTo(
    Number(await page.getByTestId('spend-rows').locator('tbody tr').evaluateAll((trs) =>
      trs.reduce((sum, tr) => sum + Number(tr.getAttribute('data-spend-micros')), 0))) / 1e6,
    6,
  );
  // The project's budget is drawn against its spend.
  expect(await drawnTotal(page, '#spend-budgets')).toBeGreaterThan(25);
  const budgetRow = page.locator(`tr[data-subject="project:${traffic.projectId}"]`);
  await expect(budgetRow).toContainText('$25.00');
  await expect(budgetRow).toContainText(`Project ${traffic.projectAlias}`);
  await page.waitForTimeout(1500); // let the charts' entry animation finish for the picture
  await page.screenshot({ path: 'test-results/spend.png', fullPage: true });

  // Click 2: the download, the same rows as CSV.
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('link', { name: 'Download CSV' }).click(),
  ]);
  const path = await download.path();
  const csv = readFileSync(path!, 'utf8');
  const lines = csv.trim().split('\r\n');
  expect(lines[0]).toBe('period,group,label,requests,failed_requests,prompt_tokens,completion_tokens,cached_tokens,spend_usd,spend_micros,avg_latency_ms');
  const cells = lines.find((line) => line.startsWith(`${today},gpt-4o-mini,`))!.split(',');
  expect(cells[3]).toBe('3');
  expect(Number(cells[9])).toBe(rowMicros);
  expect(lines.length - 1).toBe(await page.getByTestId('spend-rows').locator('tbody tr').count());

  // The URL is the view: "Last month" keeps the project and the grouping.
  await page.getByRole('link', { name: 'Last month' }).click();
  await page.waitForSelector('body[data-hydrated="true"]');
  expect(page.url()).toContain(`project_id=${traffic.projectId}`);
  expect(page.url()).toContain('group_by=model');
  await expect(page.locator('a.preset.selected')).toHaveText('Last month');

  // The reconciliation is finance's too: it compares every raw row with the rollups.
  await page.goto('/reconcile');
  await expect(page.getByTestId('reconciliation')).toContainText('Raw rows compared');

  // Nothing on the spend pages changes anything: every form is a GET, but for logging out.
  for (const path of ['/overview', '/spend', '/logs', '/reconcile']) {
    await page.goto(path);
    await expect(page.locator('form[method="post"]:not(.inline)')).toHaveCount(0);
  }
  // The console's change functions refuse finance even with its own valid CSRF token.
  const session = await page.request.post('/api/get_session_info', { form: {} });
  const csrf = (await session.json()).csrf_token as string;
  const forged = await page.request.post('/api/save_team', {
    form: { csrf, existing: 'false', team_id: 'forged-by-finance', team_alias: '' },
  });
  expect(forged.ok()).toBe(false);
  // And the CSV is for finance and admins only: a signed-out browser is sent to log in.
  const anonymous = await request.get('/console/spend.csv', { maxRedirects: 0 });
  expect(anonymous.status()).toBe(303);
});

test('the Logs page filters by key, pages, and shows a request in full', async ({ page, request }) => {
  const traffic = await projectWithTraffic(request);
  await logIn(page);
  await page.goto(`/logs?key=${traffic.keyAlias}`);
  await page.waitForSelector('body[data-hydrated="true"]');
  const rows = page.getByTestId('log-rows').locator('tbody tr');
  await expect(rows).toHaveCount(4);
  await expect(rows.first()).toContainText(traffic.keyAlias);
  await page.goto(`/logs?key=${traffic.keyAlias}&model=claude`);
  await expect(page.getByTestId('log-rows').locator('tbody tr')).toHaveCount(1);
  await page.goto(`/logs?key=${traffic.keyAlias}&status=failure`);
  await expect(page.getByText('No requests match.')).toBeVisible();

  await page.goto(`/logs?key=${traffic.keyAlias}&model=claude`);
  await page.getByTestId('log-rows').locator('tbody tr a').first().click();
  await expect(page).toHaveURL(/\/logs\/[0-9a-f-]{36}$/);
  const detail = page.getByTestId('log-detail');
  await expect(detail).toContainText('success (HTTP 200)');
  await expect(detail).toContainText(traffic.projectId);
  await expect(detail).toContainText('anthropic');
  await expect(page.getByTestId('log-attempts')).toContainText('"outcome": "success"');
  await page.waitForTimeout(1500); // let the charts' entry animation finish for the picture
  await page.screenshot({ path: 'test-results/logs.png', fullPage: true });
});
