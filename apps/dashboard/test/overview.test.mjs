// The overview, the dashboard's first page, and a job's timeline, in a real browser against a
// real farm: a server sampling its history every half second and two worker processes running a
// job of fractal renders. Run with `npm run test:browser` (after `npm run build`).
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT, launchBrowser, startFarm, until } from './farm.mjs';

const SHOTS = join(ROOT, 'docs/screenshots');
const VIEWPORT = { width: 1280, height: 800 };
/** About 0.5 s a task: c = 0 never escapes inside the unit disk. */
const MEDIUM = {
  xa: -1.6,
  xb: 1.6,
  ya: -1.2,
  yb: 1.2,
  cr: -0.4,
  ci: 0.6,
  width: 320,
  height: 240,
  iterations: 4000,
};

describe('the overview and the job timeline', { timeout: 240_000 }, () => {
  let farm;
  let browser;
  let page;
  const pageErrors = [];

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    farm = await startFarm({ workers: 2, serverArgs: ['--sample-ms', '500'] });
    browser = await launchBrowser(VIEWPORT);
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    page.setDefaultTimeout(30_000);
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      // A refused style or script shows here before anything looks wrong.
      if (/Content Security Policy/i.test(message.text())) pageErrors.push(message.text());
    });
    await farm.signIn(page);
  });

  after(async () => {
    await browser?.close();
    await farm?.stop();
  });

  /** Whether a chart's canvas has any pixel drawn that is not blank. */
  const chartDrawn = (name) =>
    page.evaluate((chart) => {
      const canvas = document.querySelector(`[data-chart="${chart}"] canvas`);
      if (!canvas || canvas.width === 0 || canvas.height === 0) return false;
      const context = canvas.getContext('2d');
      const { data } = context.getImageData(0, 0, canvas.width, canvas.height);
      for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) return true;
      return false;
    }, name);
  const figure = (key) => page.locator(`[data-figure="${key}"]`).getAttribute('data-value');

  it('opens on the overview: charts drawn, figures live, each worker with its task', async () => {
    await page.goto(farm.url);
    await page.locator('.overview-view').waitFor();
    assert.equal(await page.locator('.topbar a.active').textContent(), 'Overview');
    const { job } = await farm.rpc('jobs.submit', {
      group: 'overview',
      name: 'Julia renders',
      taskType: 'fractal.julia',
      params: MEDIUM,
      frames: { start: 1, end: 80 },
    });

    // Both workers show the task they run now, linked to its job with the task selected.
    for (const name of ['w-1', 'w-2']) {
      await page
        .locator(`.overview-workers tr[data-worker-name="${name}"][data-task-id]`)
        .waitFor();
    }
    const link = page.locator('.overview-workers tr[data-worker-name="w-1"] .current-task a');
    assert.equal(await link.textContent(), 'Julia renders');
    assert.match(await link.getAttribute('href'), new RegExp(`^/jobs/${job.id}\\?task=\\d+$`));
    assert.equal(await figure('workers'), '2');
    await link.click();
    await page.locator(`.job-view[data-job-id="${job.id}"]`).waitFor();
    assert.match(page.url(), /\?task=\d+$/);

    // The last five minutes, by the second.
    await page.goto(`${farm.url}/?range=5m`);
    await page.locator('.overview-view').waitFor();
    // The figures follow the run: tasks finish, the last minute's throughput rises.
    await until(async () => Number(await figure('throughput')) > 0, 60_000, 'a throughput');
    const firstAt = await page.locator('.headline').getAttribute('data-at');
    await until(
      async () => (await page.locator('.headline').getAttribute('data-at')) !== firstAt,
      10_000,
      'the figures read again',
    );

    // The charts: drawn on their canvases from the samples, with more points as time goes on.
    const points = async (chart) =>
      Number(await page.locator(`[data-chart="${chart}"]`).getAttribute('data-points'));
    await until(async () => (await points('throughput')) >= 3, 30_000, 'three samples');
    const seen = await points('queue');
    for (const chart of ['throughput', 'queue', 'failures']) {
      assert.ok(await chartDrawn(chart), `the ${chart} chart has pixels drawn`);
    }
    await until(async () => (await points('queue')) > seen, 30_000, 'a new sample on the chart');
    // A picture while the job still runs, if the machine is quick enough to allow a few more.
    await until(async () => (await points('queue')) >= 12, 30_000, 'twelve samples');
    await page.screenshot({ path: join(SHOTS, 'overview.png'), animations: 'disabled' });
    await farm.rpc('jobs.cancel', { id: job.id });
    assert.deepEqual(pageErrors, []);
  });

  it("draws a job's timeline: one bar per attempt, on its worker's row", async () => {
    const { job } = await farm.rpc('jobs.submit', {
      group: 'overview',
      name: 'Forty renders',
      taskType: 'fractal.julia',
      params: MEDIUM,
      frames: { start: 1, end: 40 },
    });
    await page.goto(`${farm.url}/jobs/${job.id}`);
    // Live while it runs: bars are added as tasks start, before the job ends.
    await page.locator('.timeline .tl-bar').first().waitFor();
    await page.waitForFunction(
      () =>
        document.querySelector('.job-view')?.getAttribute('data-job-status') === 'running' &&
        document.querySelectorAll('.timeline .tl-bar').length >= 6,
      null,
      { timeout: 30_000 },
    );
    await page.waitForSelector('.job-view[data-job-status="succeeded"]', { timeout: 90_000 });
    await until(
      async () => (await page.locator('.timeline .tl-bar[data-status="active"]').count()) === 0,
      10_000,
      'the running bars to end',
    );
    const { attempts } = await farm.rpc('jobs.timeline', { id: job.id });
    const { workers } = await farm.rpc('workers.list', {});
    const nameOf = new Map(workers.map((w) => [w.id, w.name]));
    await until(
      async () => (await page.locator('.timeline .tl-bar').count()) === attempts.length,
      10_000,
      'a bar per attempt',
    );
    for (const attempt of attempts) {
      const worker = nameOf.get(attempt.workerId);
      const bar = page.locator(
        `.timeline-row[data-worker-name="${worker}"] .tl-bar[data-attempt-id="${attempt.id}"]`,
      );
      assert.equal(await bar.count(), 1, `attempt ${attempt.id} on ${worker}'s row`);
      assert.equal(await bar.getAttribute('data-status'), attempt.status);
    }
    assert.equal(
      await page.locator('.timeline-row[data-worker-name]').count(),
      new Set(attempts.map((a) => a.workerId)).size,
    );
    // A bar names its task when hovered, and selects it when clicked.
    const first = page.locator('.timeline .tl-bar').first();
    assert.match(await first.locator('title').textContent(), /^task \d+, attempt 1: succeeded/);
    await first.click();
    assert.match(page.url(), new RegExp(`\\?task=${await first.getAttribute('data-task-id')}$`));
    await page.locator('.task-panel').waitFor();
    await page.setViewportSize(VIEWPORT);
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: join(SHOTS, 'job-timeline.png'), animations: 'disabled' });
    assert.deepEqual(pageErrors, []);
  });
});
