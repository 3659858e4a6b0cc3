// The Schedules page, in a real browser against a real farm: a schedule added from the form is
// ticked by the server, its last run links to the job it submitted; a bad expression or job is
// refused with the server's words and adds nothing; pause, run now, edit and remove act on it.
// Run with `npm run test:browser` (after `npm run build`).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { launchBrowser, startFarm, until } from './farm.mjs';

const QUICK = {
  xa: -1.6,
  xb: 1.6,
  ya: -1.2,
  yb: 1.2,
  cr: -0.8,
  ci: 0.156,
  width: 160,
  height: 120,
  iterations: 200,
};
const GROUP = 'scheduled-browser';

describe('schedules in the dashboard', { timeout: 180_000 }, () => {
  let farm;
  let browser;
  let page;
  const pageErrors = [];

  before(async () => {
    farm = await startFarm({ workers: 1, slots: 1 });
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

  const job = (extra = {}) =>
    JSON.stringify({ group: GROUP, taskType: 'fractal.julia', params: QUICK, ...extra }, null, 2);
  const fill = async (values) => {
    const form = page.getByRole('form', { name: 'schedule' });
    for (const [name, value] of Object.entries(values)) {
      const field = form.locator(`[name="${name}"]`);
      if ((await field.evaluate((el) => el.tagName)) === 'SELECT') await field.selectOption(value);
      else await field.fill(value);
    }
    return form;
  };

  it('refuses a bad expression, zone or job with a clear error, adding nothing', async () => {
    await page.goto(`${farm.url}/jobs`);
    await page.getByRole('link', { name: 'Schedules' }).click();
    await page.waitForSelector('.view.schedules');
    await page.getByText('No schedules yet').waitFor();

    let form = await fill({ name: 'broken', cron: '*/5 * *', timezone: 'UTC', job: job() });
    await form.getByRole('button', { name: 'Add schedule' }).click();
    await page.waitForSelector('[data-form-error]');
    assert.match(
      await page.textContent('[data-form-error]'),
      /cannot be used.*DROVER_E_INVALID_CRON/s,
    );

    form = await fill({ cron: '*/5 * * * *', timezone: 'Europe/Atlantis' });
    await form.getByRole('button', { name: 'Add schedule' }).click();
    await until(
      async () => /DROVER_E_INVALID_TIMEZONE/.test(await page.textContent('[data-form-error]')),
      10_000,
      'the time zone error',
    );

    form = await fill({ timezone: 'Europe/Paris', job: '{"group": ' });
    await form.getByRole('button', { name: 'Add schedule' }).click();
    await until(
      async () => /The job is not JSON/.test(await page.textContent('[data-form-error]')),
      10_000,
      'the JSON error',
    );

    form = await fill({ job: job({ params: { ...QUICK, width: 'wide' } }) });
    await form.getByRole('button', { name: 'Add schedule' }).click();
    await until(
      async () =>
        /width.*DROVER_E_INVALID_PARAMS/s.test(await page.textContent('[data-form-error]')),
      10_000,
      'the params error',
    );
    assert.deepEqual((await farm.rpc('schedules.list', {})).schedules, []);
  });

  it('adds a schedule that the server ticks, and links its last run to its job', async () => {
    const form = await fill({
      name: 'every-second',
      cron: '* * * * * *',
      timezone: 'Europe/Paris',
      overlap: 'queue',
      catchUp: 'last',
      job: job(),
    });
    await form.getByRole('button', { name: 'Add schedule' }).click();
    await page.getByRole('status').filter({ hasText: 'Added schedule every-second' }).waitFor();
    const row = page.locator('tr[data-schedule="every-second"]');
    await row.waitFor();
    assert.match(await row.textContent(), /\* \* \* \* \* \*.*Europe\/Paris/);
    // The page reads the schedules again every few seconds: the last run appears by itself.
    const link = row.locator('td.last-run a');
    await link.waitFor({ timeout: 20_000 });
    const href = await link.getAttribute('href');
    const jobId = href?.split('/').pop();
    const submitted = await farm.rpc('jobs.get', { id: jobId });
    assert.equal(submitted.group, GROUP);
    assert.match(submitted.idempotencyKey, /^schedule:/);

    await row.getByRole('button', { name: 'Pause' }).click();
    await page.waitForSelector('tr[data-schedule="every-second"][data-paused="true"]');
    await row.locator('.badge.paused').waitFor();
    assert.equal((await farm.rpc('schedules.get', { name: 'every-second' })).paused, true);

    await row.getByRole('button', { name: 'Run now' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: 'Schedule every-second submitted job' })
      .waitFor();

    await row.getByRole('button', { name: 'Edit' }).click();
    const edit = await fill({ cron: '0 3 * * *' });
    await edit.getByRole('button', { name: 'Save schedule' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved schedule every-second' }).waitFor();
    assert.equal((await farm.rpc('schedules.get', { name: 'every-second' })).cron, '0 3 * * *');

    await row.getByRole('button', { name: 'Resume' }).click();
    await page.waitForSelector('tr[data-schedule="every-second"][data-paused="false"]');

    // The last run (run-now's job by now, or a later tick's) opens its job's page.
    await link.click();
    await page.waitForSelector('.job-view');
    assert.match(page.url(), /\/jobs\/[0-9a-f-]{36}$/);
    // The job's page says which schedule submitted it, for which tick.
    await page.waitForSelector('[data-scheduled-by]');
    await page.goBack();
    page.once('dialog', (dialog) => void dialog.accept());
    await page
      .locator('tr[data-schedule="every-second"]')
      .getByRole('button', { name: 'Remove' })
      .click();
    await page.getByText('No schedules yet').waitFor();
    assert.deepEqual(pageErrors, []);
  });
});
