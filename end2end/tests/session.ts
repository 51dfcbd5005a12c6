// Shared by the console specs: the admin scripts/test.sh creates, and logging in as them.
import { expect, Page } from '@playwright/test';

export const admin = {
  email: process.env.GATEHOUSE_ADMIN_EMAIL ?? '',
  password: process.env.GATEHOUSE_ADMIN_PASSWORD ?? '',
};

/** Where each role lands after logging in: the first page it can use. */
export const landing = {
  admin: { path: /\/keys$/, heading: 'Keys' },
  finance: { path: /\/overview$/, heading: 'Overview' },
  teamAdmin: { path: /\/deployments$/, heading: 'Models & providers' },
};

/** Logs in through the form (as the admin unless told otherwise) and waits for the page the
 * role lands on. */
export async function logIn(
  page: Page,
  who: { email: string; password: string } = admin,
  lands: { path: RegExp; heading: string } = landing.admin,
) {
  await page.goto('/login');
  await page.waitForSelector('body[data-hydrated="true"]');
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page).toHaveURL(lands.path);
  await expect(page.getByRole('heading', { name: lands.heading, exact: true })).toBeVisible();
}
