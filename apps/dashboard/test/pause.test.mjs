// Pausing and resuming from the dashboard, in a real browser against a real farm: a job paused
// from its page lets its running task finish and starts no other until resumed; a group paused
// from the jobs list holds the jobs submitted into it; the group's progress over its jobs follows.
// Run with `npm run test:browser` (after `npm run build`).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { launchBrowser, startFarm, until } from './farm.mjs';

const VIEW = { xa: -1.6, xb: 1.6, ya: -1.2, yb: 1.2 };
/** About 0.5 s a task: c = 0 never escapes inside the unit disk. */
const MEDIUM = { ...VIEW, cr: -0.4, ci: 0.6, width: 320, height: 240, iterations: 4000 };
/** About 0.05 s a task. */
const QUICK = { ...VIEW, cr: -0.8, ci: 0.156, width: 320, height: 240, iterations: 300 };
const GROUP = 'paused-browser';

describe('pausing and resuming in the dashboard', { timeout: 240_000 }, () => {
  let farm;
  let browser;
  let page;
  const pageErrors = [];

  before(async () => {
    // One worker with one slot: a task at a time, so what starts is easy to count.
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

  const submit = (name, params, extra = {}) =>
    farm.rpc('jobs.submit', { group: GROUP, name, taskType: 'fractal.julia', params, ...extra });
  const started = async (jobId) =>
    (await farm.rpc('tasks.list', { jobId })).tasks.filter((t) => t.attempt > 0).length;

  it('pauses a job from its page: its running task finishes, no other starts until resumed', async () => {
    const { job } = await submit('Eight medium renders', MEDIUM, { frames: { start: 1, end: 8 } });
    await page.goto(`${farm.url}/jobs/${job.id}`);
    await page.waitForSelector('[data-connection="open"]');
    await page.waitForSelector('.job-view[data-job-status="running"]', { timeout: 30_000 });

    await page.getByRole('button', { name: 'Pause job' }).click();
    await page.waitForSelector('.job-view[data-job-paused="true"]');
    await page.waitForSelector('.job-head .badge.paused');
    const atPause = await started(job.id);
    assert.ok(atPause >= 1 && atPause < 8, `${atPause} tasks had started at the pause`);
    // The task the worker held finishes; the page shows the rest waiting.
    await until(
      async () => {
        const now = await farm.rpc('jobs.get', { id: job.id });
        return now.counts.running + now.counts.leased === 0;
      },
      30_000,
      'the running task to finish',
    );
    await new Promise((r) => setTimeout(r, 2000));
    const whilePaused = await started(job.id);
    assert.ok(whilePaused <= atPause + 1, 'at most the task being claimed at the pause started');
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(await started(job.id), whilePaused, 'no task starts while the job is paused');
    const queued = await page.locator('.job-facts [data-count="queued"]').textContent();
    assert.equal(Number(queued), 8 - whilePaused, 'the page shows the rest waiting');
    assert.equal(await page.locator('.job-view').getAttribute('data-job-status'), 'running');

    await page.getByRole('button', { name: 'Resume job' }).click();
    await page.waitForSelector('.job-view[data-job-paused="false"]');
    await page.waitForSelector('.job-view[data-job-status="succeeded"]', { timeout: 60_000 });
    assert.equal(await page.locator('.job-facts [data-count="succeeded"]').textContent(), '8');
    assert.equal(await page.locator('.job-head .badge.paused').count(), 0);
  });

  it("pauses a group from the jobs list, holding a job submitted into it, and shows the group's progress live", async () => {
    await page.goto(`${farm.url}/jobs?group=${GROUP}`);
    const summary = page.locator('.group-summary');
    await summary.waitFor();
    await page.waitForSelector('.group-summary[data-group-done="8"][data-group-total="8"]');
    await page.getByRole('button', { name: 'Pause group' }).click();
    await page.waitForSelector('.group-summary[data-group-paused="true"]');

    const { job } = await submit('Held by its group', QUICK, { frames: { start: 1, end: 4 } });
    assert.equal(job.paused, true);
    // The new job's row, paused, and the group's total with its tasks, live.
    await page.waitForSelector(`[data-job-id="${job.id}"] .badge.paused`);
    await page.waitForSelector('.group-summary[data-group-done="8"][data-group-total="12"]');
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(await started(job.id), 0, 'nothing of a paused group starts');

    await page.getByRole('button', { name: 'Resume group' }).click();
    await page.waitForSelector('.group-summary[data-group-paused="false"]');
    await page.waitForSelector('.group-summary[data-group-done="12"][data-group-total="12"]', {
      timeout: 60_000,
    });
    assert.equal(await page.locator(`[data-job-id="${job.id}"] .badge.paused`).count(), 0);
    assert.deepEqual(pageErrors, []);
  });
});
