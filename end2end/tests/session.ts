// Shared by the console specs: the admin scripts/test.sh creates, and logging in as them.
import { expect, Page } from '@playwright/test';

export const admin = {
  email: process.env.GATEHOUSE_ADMIN_EMAIL ?? '',
  password: process.env.GATEHOUSE_ADMIN_PASSWORD ?? '',
};

/** Logs in through the form (as the admin unless told otherwise) and waits for the Keys page,
 * where login lands. */
export async function logIn(page: Page, who: { email: string; password: string } = admin) {
  await page.goto('/login');
  await page.waitForSelector('body[data-hydrated="true"]');
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page).toHaveURL(/\/keys$/);
  await expect(page.getByRole('heading', { name: 'Keys', exact: true })).toBeVisible();
}
