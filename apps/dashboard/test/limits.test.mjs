// Why a task waits and the workers blocked for a job, in a real browser against a real farm: a
// group at its limit says so in the task panel; a job whose task fails on the farm's only
// worker blocks it, the job page lists it, the task panel says every worker is blocked, and the
// Unblock button lifts it. Run with `npm run test:browser` (after `npm run build`).
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { launchBrowser, startFarm, until } from './farm.mjs';

const VIEW = { xa: -1.6, xb: 1.6, ya: -1.2, yb: 1.2 };
/** About 0.5 s a task. */
const MEDIUM = { ...VIEW, cr: -0.4, ci: 0.6, width: 320, height: 240, iterations: 4000 };
/** A shell task that always fails: what a broken worker does to every task of a job. */
const FAILING = [{ name: 'test.fails', argv: ['sh', '-c', 'echo "no GPU here" >&2; exit 3'] }];

describe('why a task waits, and blocked workers, in the dashboard', { timeout: 240_000 }, () => {
  let farm;
  let browser;
  let page;
  const pageErrors = [];

  before(async () => {
    const tasksFile = join(mkdtempSync(join(tmpdir(), 'drover-limits-')), 'failing-tasks.json');
    writeFileSync(tasksFile, JSON.stringify(FAILING));
    farm = await startFarm({
      workers: 1,
      slots: 2,
      extraWorkerArgs: ['--shell-tasks', tasksFile],
    });
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

  it("says in a queued task's panel that its group is at its limit", async () => {
    const group = 'limited-browser';
    await farm.rpc('groups.setLimits', { group, maxRunning: 1 });
    const { job } = await farm.rpc('jobs.submit', {
      group,
      name: 'Six medium renders',
      taskType: 'fractal.julia',
      params: MEDIUM,
      frames: { start: 1, end: 6 },
    });
    await page.goto(`${farm.url}/jobs/${job.id}`);
    await page.waitForSelector('[data-connection="open"]');
    const { tasks } = await farm.rpc('tasks.list', { jobId: job.id });
    const last = tasks.at(-1);
    await page.goto(`${farm.url}/jobs/${job.id}?task=${last.id}`);
    const reason = page.locator('[aria-label="why it waits"] [data-reason="group_limit"]');
    await reason.waitFor();
    assert.match(await reason.innerText(), /limited-browser is at its limit: 1\/1 running/);
    await page.screenshot({ path: process.env.DROVER_SCREENSHOT_WHY ?? '/tmp/drover-why.png' });
    await farm.rpc('groups.setLimits', { group, maxRunning: null });
  });

  it('lists the worker blocked for a job, says so for its task, and unblocks it', async () => {
    const { job } = await farm.rpc('jobs.submit', {
      group: 'blocked-browser',
      name: 'Fails on its only worker',
      taskType: 'test.fails',
      maxAttempts: 10,
      backoff: { initialMs: 100, maxMs: 100 },
    });
    await page.goto(`${farm.url}/jobs/${job.id}`);
    await page.waitForSelector('[data-connection="open"]');
    const list = page.locator('[aria-label="blocked workers"]');
    await list.waitFor({ timeout: 60_000 });
    assert.match(await list.innerText(), /w-1/);
    assert.match(await list.innerText(), /3 failures/);
    const { tasks } = await farm.rpc('tasks.list', { jobId: job.id });
    await page.goto(`${farm.url}/jobs/${job.id}?task=${tasks[0].id}`);
    await page.locator('[data-reason="blocklisted"]').waitFor();
    await page.screenshot({
      path: process.env.DROVER_SCREENSHOT_BLOCKED ?? '/tmp/drover-blocked.png',
    });
    // Cancelled first, so that it does not fail on the worker again once unblocked.
    await farm.rpc('jobs.cancel', { id: job.id });
    await page.getByRole('button', { name: 'Unblock' }).click();
    await list.waitFor({ state: 'detached' });
    await until(
      async () => (await farm.rpc('jobs.blocklist', { id: job.id })).workers.length === 0,
      10_000,
      'the worker to be unblocked',
    );
    assert.deepEqual(pageErrors, []);
  });
});
