// A group's retention in the dashboard, in a real browser against a real farm: shown beside the
// group's progress, and changed there by an admin; a duration it cannot read is refused there and
// changes nothing. Run with `npm run test:browser` (after `npm run build`).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { launchBrowser, startFarm } from './farm.mjs';

const GROUP = 'kept-browser';

describe("a group's retention in the dashboard", { timeout: 120_000 }, () => {
  let farm;
  let browser;
  let page;
  const pageErrors = [];

  before(async () => {
    farm = await startFarm({ workers: 0 });
    browser = await launchBrowser();
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    page.setDefaultTimeout(30_000);
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await farm.signIn(page);
  });

  after(async () => {
    await browser?.close();
    await farm?.stop();
  });

  it("shows the group's retention and lets an admin change it", async () => {
    await farm.rpc('jobs.submit', {
      group: GROUP,
      taskType: 'fractal.julia',
      params: {},
      allowUnknownType: true,
    });
    await page.goto(`${farm.url}/jobs?group=${GROUP}`);
    const retention = page.locator('.group-retention');
    await page.waitForSelector('.group-retention[data-group-retention="default"]');
    assert.match(
      await retention.textContent(),
      /Keeps finished jobs as long as the farm's retention/,
    );

    await retention.getByRole('button', { name: 'Change' }).click();
    await page.getByLabel('retention').fill('12x');
    await retention.getByRole('button', { name: 'Save' }).click();
    await page.waitForSelector('.group-retention .error-text');
    assert.match(await retention.locator('.error-text').textContent(), /not "12x"/);
    assert.equal((await farm.rpc('groups.get', { name: GROUP })).retention, 'default');

    await page.getByLabel('retention').fill('7d');
    await retention.getByRole('button', { name: 'Save' }).click();
    await page.waitForSelector(`.group-retention[data-group-retention="${7 * 86_400_000}"]`);
    assert.match(await retention.textContent(), /Keeps finished jobs 7d/);
    assert.equal((await farm.rpc('groups.get', { name: GROUP })).retention, 7 * 86_400_000);
    assert.deepEqual(pageErrors, []);
  });
});
