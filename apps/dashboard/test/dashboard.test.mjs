// The dashboard in a real browser against a real farm: a server process, worker processes that
// get killed, a server that restarts. Run with `npm run test:browser` (after `npm run build`).
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT, launchBrowser, startFarm, until } from './farm.mjs';

const SHOTS = join(ROOT, 'docs/screenshots');
const VIEW = { xa: -1.6, xb: 1.6, ya: -1.2, yb: 1.2 };
/** About 0.05 s a task. */
const QUICK = { ...VIEW, cr: -0.8, ci: 0.156, width: 320, height: 240, iterations: 300 };
/** About 0.5 s a task: c = 0 never escapes inside the unit disk. */
const MEDIUM = { ...VIEW, cr: -0.4, ci: 0.6, width: 320, height: 240, iterations: 4000 };
/** About 3 s a task. */
const SLOW = { ...VIEW, cr: 0, ci: 0, width: 400, height: 300, iterations: 10_000 };

describe('the dashboard', { timeout: 300_000 }, () => {
  let farm;
  let browser;
  let page;
  const pageErrors = [];
  /** The JSON-RPC methods the page called over its WebSocket, in order. */
  const called = [];

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    farm = await startFarm({ workers: 2, extraWorkerArgs: ['--tags', 'linux,render'] });
    browser = await launchBrowser();
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    page.setDefaultTimeout(30_000);
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('websocket', (socket) =>
      socket.on('framesent', ({ payload }) => {
        const method = /"method":"([^"]+)"/.exec(String(payload))?.[1];
        if (method) called.push(method);
      }),
    );
    await farm.signIn(page);
  });

  after(async () => {
    await browser?.close();
    await farm?.stop();
  });

  /** A screenshot of the page as it is, the viewport cut to `height` pixels. */
  const shoot = async (view, height = 900) => {
    await page.setViewportSize({ width: 1440, height });
    await page.screenshot({ path: join(SHOTS, `${view}.png`), animations: 'disabled' });
    await page.setViewportSize({ width: 1440, height: 900 });
  };

  const submit = (name, params, extra = {}) =>
    farm.rpc('jobs.submit', {
      group: 'browser',
      name,
      taskType: 'fractal.julia',
      params,
      ...extra,
    });

  const jobStatus = () => page.locator('.job-view').getAttribute('data-job-status');
  const headerCount = (status) =>
    page.locator(`.job-facts [data-count="${status}"]`).textContent({ timeout: 1000 });
  const thumbnailsLoaded = (n) =>
    page.waitForFunction(
      (count) => {
        const images = [...document.querySelectorAll('.artifact img')];
        return images.length === count && images.every((i) => i.complete && i.naturalWidth > 0);
      },
      n,
      { timeout: 60_000 },
    );

  it('submits a fractal job through the form and watches it reach 100% with thumbnails', async () => {
    await page.goto(`${farm.url}/submit?group=browser`);
    await page.waitForSelector('[data-connection="open"]');
    await page.locator('select[name="taskType"]').selectOption('fractal.julia');
    await page.locator('input[name="group"]').waitFor();
    const params = { ...QUICK };
    const withSchema = (await page.locator('input[name="params.width"]').count()) > 0;
    if (withSchema) {
      for (const [key, value] of Object.entries(params))
        await page.locator(`[name="params.${key}"]`).fill(String(value));
      // A value the schema refuses is shown at its field, and nothing is submitted.
      await page.locator('input[name="params.width"]').fill('wide');
      await page.locator('button[type="submit"]').click();
      await page.waitForSelector('[data-error-for="params.width"]');
    } else {
      await page.locator('textarea[name="params"]').fill('{ "width": ');
      await page.locator('button[type="submit"]').click();
      await page.waitForSelector('[data-error-for="params"]');
    }
    await page.locator('input[name="name"]').fill('Six Julia sets from the form');
    await page.locator('input[name="useFrames"]').check();
    await page.locator('input[name="frames.start"]').fill('1');
    await page.locator('input[name="frames.end"]').fill('6');
    await shoot('submit', 660);

    if (withSchema) await page.locator('input[name="params.width"]').fill('320');
    else await page.locator('textarea[name="params"]').fill(JSON.stringify(params));
    await page.locator('button[type="submit"]').click();
    await page.waitForURL(/\/jobs\/[0-9a-f-]{36}$/);
    await page.waitForSelector('.job-view[data-job-status="succeeded"]', { timeout: 60_000 });
    assert.equal(await page.locator('.job-facts .progress-label').textContent(), '100%');
    assert.equal(await headerCount('succeeded'), '6');
    await thumbnailsLoaded(6);

    const id = page.url().split('/').at(-1);
    const job = await farm.rpc('jobs.get', { id });
    assert.equal(job.name, 'Six Julia sets from the form');
    assert.equal(job.counts.succeeded, 6);
  });

  it('shows a SIGKILLed worker go offline and its task retried by another', async () => {
    const { job } = await submit('A slow render', SLOW, { maxAttempts: 3 });
    await page.goto(`${farm.url}/workers`);
    await page.waitForSelector('tr[data-worker-name="w-2"]');
    const [running] = await until(
      async () => {
        const { tasks } = await farm.rpc('tasks.list', { jobId: job.id });
        return tasks[0]?.status === 'running' && tasks;
      },
      30_000,
      'the task to run',
    );
    const { workers } = await farm.rpc('workers.list', {});
    const victim = workers.find((w) => w.id === running.workerId).name;
    await farm.killWorker(victim);
    await page.waitForSelector(`tr[data-worker-name="${victim}"][data-state="offline"]`, {
      timeout: 20_000,
    });
    // The survivor's load, once its next heartbeat has brought it.
    await page
      .waitForSelector('tr[data-state="online"] td.meter .progress', { timeout: 15_000 })
      .catch(() => undefined);
    await shoot('workers', 260);

    await page.goto(`${farm.url}/jobs/${job.id}`);
    await page.waitForSelector('[data-task-index="0"] [data-attempt="2"]', { timeout: 20_000 });
    await page.waitForSelector('.job-view[data-job-status="succeeded"]', { timeout: 60_000 });
    await page.locator('[data-task-index="0"]').click();
    await page.waitForSelector('[data-attempt-status="lost"]');
    await page.waitForSelector('[data-attempt-status="succeeded"]');
    await thumbnailsLoaded(1);

    farm.startWorker(victim);
    await farm.online(2);

    // Many at once: every worker the filter selects (here, by tag), then one row's own button.
    await page.goto(`${farm.url}/workers`);
    await page.getByLabel('tag').selectOption('render');
    await page.getByLabel('action').selectOption('disable');
    called.length = 0;
    await page.getByRole('button', { name: 'disable 2 matching' }).click();
    await page.waitForSelector('tr[data-state="disabled"][data-worker-name="w-1"]');
    await page.waitForSelector('tr[data-state="disabled"][data-worker-name="w-2"]');
    assert.deepEqual(
      called.filter((m) => m.startsWith('workers.') && m !== 'workers.list'),
      ['workers.apply'],
      'one call for every worker the filter selects',
    );
    await page.getByLabel('action').selectOption('enable');
    await page.getByRole('button', { name: 'enable 2 matching' }).click();
    await farm.online(2);
    await page.locator('tr[data-worker-name="w-2"]').getByRole('button', { name: 'drain' }).click();
    await page.waitForSelector('tr[data-state="draining"][data-worker-name="w-2"]');
    await page
      .locator('tr[data-worker-name="w-2"]')
      .getByRole('button', { name: 'enable' })
      .click();
    await farm.online(2);
  });

  it('cancels a job from its page', async () => {
    const { job } = await submit('Twenty slow renders', SLOW, { frames: { start: 1, end: 20 } });
    await page.goto(`${farm.url}/jobs/${job.id}`);
    await page.waitForSelector('.job-view[data-job-status="running"]', { timeout: 30_000 });
    await page.getByRole('button', { name: 'Cancel job' }).click();
    await page.getByRole('button', { name: 'Really cancel?' }).click();
    await page.waitForSelector('.job-view[data-job-status="cancelled"]', { timeout: 30_000 });
    const done = await farm.rpc('jobs.get', { id: job.id });
    assert.equal(done.status, 'cancelled');
    assert.equal(await headerCount('cancelled'), String(done.counts.cancelled));
    assert.ok(done.counts.cancelled > 0);
  });

  it('loses nothing when the page is reloaded in the middle of a job', async () => {
    // Forty renders of half a second on two workers: ten seconds to spare for the reload.
    const { job } = await submit('Forty renders, reloaded', MEDIUM, {
      frames: { start: 1, end: 40 },
    });
    await page.goto(`${farm.url}/jobs/${job.id}`);
    await until(async () => Number(await headerCount('succeeded')) >= 3, 30_000, '3 tasks done');
    await page.locator('[data-task-index="1"]').click();
    await page.waitForSelector('.log-line');
    await shoot('job', 1080);
    assert.notEqual(await jobStatus(), 'succeeded', 'the job ended before the reload');
    await page.reload();
    await page.waitForSelector('.job-view[data-job-status="succeeded"]', { timeout: 60_000 });
    await expectComplete(job.id, 40);
  });

  it('reconnects by itself when the server restarts, and loses nothing', async () => {
    const { job } = await submit('Sixteen renders, server restarted', MEDIUM, {
      frames: { start: 1, end: 16 },
    });
    await page.goto(`${farm.url}/jobs/${job.id}`);
    await until(async () => Number(await headerCount('succeeded')) >= 2, 30_000, '2 tasks done');
    await farm.restartServer(async () => {
      await page.waitForSelector('[data-connection="reconnecting"]', { timeout: 10_000 });
    });
    await page.waitForSelector('[data-connection="open"]', { timeout: 30_000 });
    await page.waitForSelector('.job-view[data-job-status="succeeded"]', { timeout: 60_000 });
    await expectComplete(job.id, 16);
  });

  it('lists the group live, filters it and finds a job by name', async () => {
    await submit('A slow render, still running', SLOW);
    await page.goto(`${farm.url}/jobs?group=browser`);
    await page.waitForSelector('.jobs-table [data-job-id]');
    const { jobs } = await farm.rpc('jobs.list', { group: 'browser' });
    await until(
      async () => (await page.locator('.jobs-table [data-job-id]').count()) === jobs.length,
      10_000,
      'every job listed',
    );
    const { job } = await submit('Arrives while watching', QUICK);
    await page.waitForSelector(`.jobs-table [data-job-id="${job.id}"] [data-status="succeeded"]`);
    // A task given less time than it needs fails the job: its row turns red as it happens.
    const { job: late } = await submit('Too little time', SLOW, { timeoutMs: 200, maxAttempts: 1 });
    await page.waitForSelector(`.jobs-table [data-job-id="${late.id}"] [data-status="failed"]`);
    for (const frames of [8, 3, 12]) {
      await submit(`${frames} Julia sets`, QUICK, { frames: { start: 1, end: frames } });
    }
    await submit('Queued behind the rest', SLOW, { frames: { start: 1, end: 4 }, priority: -5 });
    await until(
      async () => (await page.locator('.jobs-table [data-status="succeeded"]').count()) >= 8,
      30_000,
      'the quick jobs done',
    );
    await page.waitForSelector('.jobs-table [data-status="running"]');
    await shoot('jobs', 600);

    await page.locator('[data-filter="failed"]').click();
    await until(
      async () => (await page.locator('.jobs-table [data-job-id]').count()) === 1,
      5000,
      'only the failed job',
    );
    await page.locator('[data-filter="all"]').click();
    await page.getByLabel('search jobs').fill('reloaded');
    await until(
      async () => (await page.locator('.jobs-table [data-job-id]').count()) === 1,
      5000,
      'only the job searched for',
    );
    assert.deepEqual(pageErrors, []);
  });

  it("shows a task's result beside its images, and the image its result names", async () => {
    const { job } = await farm.rpc('jobs.submit', {
      group: 'results',
      name: 'Four frames and a sheet',
      taskType: 'fractal.frame',
      params: { frames: 4, width: 80, height: 60, iterations: 64 },
      frames: { start: 0, end: 3 },
      then: [{ taskType: 'fractal.contact-sheet', params: { columns: 2, thumbWidth: 40 } }],
    });
    await page.goto(`${farm.url}/jobs/${job.id}`);
    await page.waitForSelector('.job-view[data-job-status="succeeded"]', { timeout: 60_000 });
    const { artifacts } = await farm.rpc('artifacts.list', { jobId: job.id });
    const imagesLoaded = (ids) =>
      page.waitForFunction(
        (want) => {
          const shown = [...document.querySelectorAll('.result-images li')];
          return (
            JSON.stringify(shown.map((li) => li.getAttribute('data-artifact-id')).sort()) ===
              JSON.stringify([...want].sort()) &&
            shown.every((li) => {
              const img = li.querySelector('img');
              return img && img.complete && img.naturalWidth > 0;
            })
          );
        },
        ids,
        { timeout: 20_000 },
      );

    // The sheet's task: its result as JSON, and the sheet it names, as an image.
    await page.locator('[data-task-index="4"]').click();
    const text = await page.locator('.task-result .result-json').textContent();
    const { tasks } = await farm.rpc('tasks.list', { jobId: job.id });
    assert.deepEqual(JSON.parse(text ?? ''), tasks[4].result);
    const sheet = artifacts.find((a) => a.name === 'contact-sheet.png');
    assert.equal(tasks[4].result.image, sheet.id);
    await imagesLoaded([sheet.id]);
    assert.equal(
      await page
        .locator(`.result-images [data-artifact-id="${sheet.id}"]`)
        .getAttribute('data-named'),
      'true',
    );
    // A frame's task: the image it stored.
    await page.locator('[data-task-index="1"]').click();
    await page.waitForSelector(`.task-panel[data-task-id="${tasks[1].id}"]`);
    await imagesLoaded(artifacts.filter((a) => a.taskId === tasks[1].id).map((a) => a.id));
    assert.deepEqual(pageErrors, []);
  });

  it('removes a finished job from its page and from the list, and cancels and removes every matching job at once', async () => {
    const done = [];
    for (const name of ['Keep me', 'Remove me from the page', 'Remove me from the list']) {
      const { job } = await farm.rpc('jobs.submit', {
        group: 'removals',
        name,
        taskType: 'fractal.julia',
        params: QUICK,
      });
      done.push(job);
    }
    const [kept, fromPage, fromList] = done;
    await page.goto(`${farm.url}/jobs?group=removals`);
    await until(
      async () => (await page.locator('.jobs-table [data-status="succeeded"]').count()) === 3,
      60_000,
      'three jobs done',
    );
    // Another page follows the list as the job is removed from its own page: it vanishes there.
    const other = await browser.context.newPage();
    try {
      await other.goto(`${farm.url}/jobs/${fromPage.id}`);
      await other.waitForSelector('.job-view[data-job-status="succeeded"]');
      await other.getByRole('button', { name: 'Remove job' }).click();
      await other.getByRole('button', { name: 'Really remove?' }).click();
      await other.waitForURL(/\/jobs\?group=removals$/);
    } finally {
      await other.close();
    }
    await page.waitForSelector(`.jobs-table [data-job-id="${fromPage.id}"]`, { state: 'detached' });

    const row = page.locator(`.jobs-table [data-job-id="${fromList.id}"]`);
    await row.getByRole('button', { name: 'remove' }).click();
    await row.getByRole('button', { name: 'sure?' }).click();
    await row.waitFor({ state: 'detached' });
    await page.waitForSelector(`.jobs-table [data-job-id="${kept.id}"]`);
    await assert.rejects(farm.rpc('jobs.get', { id: fromList.id }), /no job/);

    // Every queued job of the group, cancelled in one call, then every job removed in another.
    const slow = [];
    for (let i = 0; i < 3; i++) {
      const { job } = await farm.rpc('jobs.submit', {
        group: 'removals',
        name: `Never runs ${i}`,
        taskType: 'fractal.julia',
        params: QUICK,
        runAt: new Date(Date.now() + 3_600_000).toISOString(),
      });
      slow.push(job);
    }
    await page.locator('[data-filter="queued"]').click();
    await until(
      async () => (await page.locator('.jobs-table [data-job-id]').count()) === 3,
      10_000,
      'the queued jobs',
    );
    called.length = 0;
    await page.getByRole('button', { name: 'cancel 3 matching' }).click();
    await page.getByRole('button', { name: 'Really cancel 3 matching?' }).click();
    await page.waitForSelector('[role="status"]:has-text("Cancelled 3 jobs.")');
    await page.locator('[data-filter="all"]').click();
    await page.getByRole('button', { name: 'remove 4 jobs' }).click();
    await page.getByRole('button', { name: 'Really remove 4 jobs?' }).click();
    await until(
      async () => (await page.locator('.jobs-table [data-job-id]').count()) === 0,
      10_000,
      'every job gone from the list',
    );
    assert.deepEqual(
      called.filter((m) => m.startsWith('jobs.')),
      ['jobs.apply', 'jobs.apply'],
    );
    assert.deepEqual((await farm.rpc('jobs.list', { group: 'removals' })).jobs, []);
    assert.deepEqual(pageErrors, []);
  });

  it('signs in once per link, makes and revokes tokens, and signs out', async () => {
    // Signed in by the link in `before`: the admin sees the tokens view.
    await page.goto(`${farm.url}/tokens`);
    await page.locator('.tokens-table').waitFor();
    await page.fill('input[name="name"]', 'alice');
    await page.fill('input[name="groups"]', 'browser:read');
    await page.click('button:has-text("Make a token")');
    const secret = await page.locator('[data-secret]').textContent();
    assert.match(secret ?? '', /^drover_/);
    await page.locator('.tokens-table tr:has-text("alice")').waitFor();
    await shoot('tokens', 600);
    const { tokens } = await farm.rpc('tokens.list', {});
    const alice = tokens.find((t) => t.name === 'alice');
    assert.deepEqual(alice?.groups, { browser: 'read' });

    // Signing out ends the session; the page asks to sign in again.
    await page.click('button:has-text("Sign out")');
    await page.locator('.signin').waitFor();
    assert.equal(
      (await page.context().cookies(farm.url)).find((c) => c.name === 'drover_session'),
      undefined,
    );
    // A link signs in once: used again, it says so.
    const { path } = await farm.rpc('auth.loginLink', {});
    await page.goto(`${farm.url}${path}`);
    await page.locator('.topbar .who').waitFor();
    await page.click('button:has-text("Sign out")');
    // Signing out reloads the page: the next navigation waits for it, or the two collide.
    await page.locator('.signin').waitFor();
    await page.goto(`${farm.url}${path}`);
    await page.locator('.signin [role="alert"]:has-text("used already")').waitFor();
    await shoot('sign-in', 500);

    // A member signs in with its token, sees its group and not the tokens.
    await page.fill('input[name="token"]', secret ?? '');
    await page.click('button:has-text("Sign in")');
    await page.locator('.topbar .who[data-role="member"]').waitFor();
    assert.equal(await page.locator('.topbar a:has-text("Tokens")').count(), 0);
    const cookie = (await page.context().cookies(farm.url)).find(
      (c) => c.name === 'drover_session',
    );
    assert.equal(cookie?.httpOnly, true);
    assert.equal(cookie?.sameSite, 'Strict');

    // Revoked, the member is signed out within seconds, on the page it has open.
    await farm.rpc('tokens.revoke', { id: alice.id });
    await page.locator('.signin').waitFor({ timeout: 20_000 });
    assert.deepEqual(pageErrors, []);

    await farm.signIn(page);
  });

  /**
   * The page shows the job exactly as the server has it: counts, rows, and every artifact (a task
   * that ran twice, its first attempt lost, has stored two) with its thumbnail loaded.
   */
  async function expectComplete(id, tasks) {
    const job = await farm.rpc('jobs.get', { id });
    assert.equal(job.counts.succeeded, tasks);
    assert.equal(await headerCount('succeeded'), String(tasks));
    assert.equal(await page.locator('.job-facts .progress-label').textContent(), '100%');
    const { artifacts } = await farm.rpc('artifacts.list', { jobId: id });
    assert.ok(artifacts.length >= tasks);
    await thumbnailsLoaded(artifacts.length);
    const ids = await page
      .locator('.artifact')
      .evaluateAll((items) => items.map((item) => item.getAttribute('data-artifact-id')));
    assert.deepEqual(new Set(ids), new Set(artifacts.map((a) => a.id)));
    const statuses = await page
      .locator('.tasks-table [data-task-id] [data-status]')
      .evaluateAll((badges) => badges.map((b) => b.getAttribute('data-status')));
    assert.ok(statuses.length > 0 && statuses.every((s) => s === 'succeeded'), `${statuses}`);
  }
});
