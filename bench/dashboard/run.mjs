// How fast the dashboard follows a farm, measured in headless Chromium against real processes.
//
//   npm run bench:dashboard            (builds first; or `node bench/dashboard/run.mjs`)
//   BENCH_SECONDS=60 BENCH_JOBS=10000 node bench/dashboard/run.mjs
//
// 1. Event to DOM: a fractal farm (2 workers, a producer submitting 1-10 renders a second) with the
//    jobs view open. Each job.updated event's time (`at`, stamped by the server's database) and
//    its arrival on the page's WebSocket are matched with the moment the job's row shows that
//    progress in the DOM (a MutationObserver). p50/p95/max of both.
// 2. A big group: 10,000 queued jobs and 40 jobs whose tasks report progress 2.5 times a second
//    (100 job updates a second), with the list scrolled all the while. Long tasks (over 50 ms,
//    PerformanceObserver 'longtask') and the JS heap after a forced GC every 5 s (CDP).
//
// Every call needs a token: the benchmark's calls sign in with the admin token the farm's
// embedded server keeps in its data directory (farm.rpc does too), the browser with a one-time
// sign-in link made with it (`auth.loginLink`), and the ticking worker with the worker token, in
// its environment.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, launchBrowser, startFarm, until } from '../../apps/dashboard/test/farm.mjs';
import { localTokens } from '../lib/tokens.mjs';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 45);
const BIG = Number(process.env.BENCH_JOBS ?? 10_000);
const TICKERS = 40;
/** How far the list is scrolled every 250 ms; 0 leaves it at the top. */
const SCROLL_PX = Number(process.env.BENCH_SCROLL_PX ?? 4000);

/** Runs in the page before its scripts: stamps every job.updated as it arrives, and the DOM. */
function instrument() {
  const bench = {
    arrived: new Map(),
    received: 0,
    endToEnd: [],
    onPage: [],
    longTasks: [],
  };
  window.__bench = bench;
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (message) => {
        const now = Date.now();
        let parsed;
        try {
          parsed = JSON.parse(message.data);
        } catch {
          return;
        }
        for (const one of Array.isArray(parsed) ? parsed : [parsed]) {
          if (one.method !== 'events.batch') continue;
          for (const event of one.params.events) {
            if (event.kind !== 'job.updated') continue;
            bench.received++;
            const key = `${event.data.id}|${event.data.progress}`;
            if (!bench.arrived.has(key))
              bench.arrived.set(key, { at: Date.parse(event.at), arrived: now, seen: false });
          }
        }
      });
    }
  };
  const seen = (label) => {
    const row = label.closest('[data-job-id]');
    if (!row) return;
    const entry = bench.arrived.get(`${row.dataset.jobId}|${label.dataset.progress}`);
    if (!entry || entry.seen) return;
    entry.seen = true;
    const now = Date.now();
    bench.endToEnd.push(now - entry.at);
    bench.onPage.push(now - entry.arrived);
  };
  new MutationObserver((records) => {
    for (const record of records) {
      if (record.type === 'attributes') seen(record.target);
      else
        for (const node of record.addedNodes)
          if (node instanceof Element) node.querySelectorAll('[data-progress]').forEach(seen);
    }
  }).observe(document, {
    subtree: true,
    childList: true,
    attributes: true,
    attributeFilter: ['data-progress'],
  });
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) bench.longTasks.push(Math.round(entry.duration));
  }).observe({ type: 'longtask' });
}

function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Signs the browser in as the farm's admin: a one-time link, opened, leaves a session cookie. */
async function signIn(farm, page) {
  const { path } = await farm.rpc('auth.loginLink', {});
  const opened = await page.goto(new URL(path, farm.url).href);
  // A refused link leads to the sign-in form (`/?signin=expired`) instead.
  if (!opened?.ok() || new URL(opened.url()).searchParams.has('signin'))
    throw new Error(`signing in failed: HTTP ${opened?.status()} at ${opened?.url()}`);
}

const summary = (values) =>
  `p50 ${percentile(values, 50)} ms, p95 ${percentile(values, 95)} ms, max ${Math.max(...values)} ms (${values.length} updates)`;

async function eventToDom() {
  const farm = await startFarm({ workers: 2, rateLimitPerMinute: 0 });
  const browser = await launchBrowser();
  try {
    const page = browser.context.pages()[0] ?? (await browser.context.newPage());
    await page.addInitScript(instrument);
    const jitter = () => 0.5 + Math.random();
    const submitSome = async () => {
      const n = 1 + Math.floor(Math.random() * 10);
      await farm.rpc('jobs.submit', {
        group: 'fractals',
        name: `${n} Julia sets`,
        taskType: 'fractal.julia',
        params: {
          xa: -1.6,
          xb: 1.6,
          ya: -1.2,
          yb: 1.2,
          cr: -0.8 * jitter(),
          ci: 0.156 * jitter(),
          width: 320,
          height: 240,
          iterations: 800,
        },
        frames: { start: 1, end: n },
      });
    };
    await submitSome();
    await signIn(farm, page);
    await page.goto(`${farm.url}/jobs?group=fractals`);
    await page.waitForSelector('[data-connection="open"]');
    // The page's own start (parsing and running its script) is not what is measured.
    await page.evaluate(() => (window.__bench.longTasks.length = 0));
    const stop = Date.now() + SECONDS * 1000;
    while (Date.now() < stop) {
      await submitSome();
      await new Promise((r) => setTimeout(r, 1000));
    }
    await new Promise((r) => setTimeout(r, 2000));
    const { endToEnd, onPage, received, longTasks } = await page.evaluate(() => window.__bench);
    return { endToEnd, onPage, received, longTasks };
  } finally {
    await browser.close();
    await farm.stop();
  }
}

async function bigGroup() {
  const farm = await startFarm({ workers: 0, rateLimitPerMinute: 0 });
  let ticker;
  const browser = await launchBrowser();
  try {
    const started = Date.now();
    for (let first = 0; first < BIG; first += 250) {
      const batch = [];
      for (let i = first; i < Math.min(BIG, first + 250); i++) {
        batch.push({
          jsonrpc: '2.0',
          id: i,
          method: 'jobs.submit',
          params: {
            group: 'big',
            name: `Idle job ${i}`,
            taskType: 'bench.idle',
            params: { i },
            // No worker runs these: they only fill the list.
            allowUnknownType: true,
          },
        });
      }
      const response = await fetch(`${farm.url}/rpc`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${localTokens(farm.dataDir).admin}`,
        },
        body: JSON.stringify(batch),
      });
      const answers = await response.json();
      const failed = answers.find((a) => a.error);
      if (failed) throw new Error(`jobs.submit: ${failed.error.message}`);
    }
    const submitted = (Date.now() - started) / 1000;
    // The worker token in the environment, never on the command line.
    ticker = spawn(
      process.execPath,
      [join(ROOT, 'bench/dashboard/tick-worker.mjs'), farm.url, String(TICKERS)],
      {
        stdio: 'inherit',
        env: { ...process.env, DROVER_TOKEN: localTokens(farm.dataDir).worker },
      },
    );
    for (let i = 0; i < TICKERS; i++) {
      await farm.rpc('jobs.submit', {
        group: 'big',
        name: `Ticking job ${i}`,
        taskType: 'bench.tick',
        params: { seconds: SECONDS + 60, hz: 2.5 },
        // The ticking worker may not have said hello yet.
        allowUnknownType: true,
      });
    }
    const page = browser.context.pages()[0] ?? (await browser.context.newPage());
    await page.addInitScript(instrument);
    await signIn(farm, page);
    const opened = Date.now();
    await page.goto(`${farm.url}/jobs?group=big`);
    const total = BIG + TICKERS;
    await page.waitForFunction(
      (n) => document.querySelector('.filters .muted')?.textContent === `${n} shown`,
      total,
      { timeout: 120_000 },
    );
    const listed = (Date.now() - opened) / 1000;
    await until(
      async () => (await farm.rpc('workers.list', {})).workers.some((w) => w.running >= TICKERS),
      60_000,
      'every ticking task running',
    );
    const cdp = await browser.context.newCDPSession(page);
    const heap = async () => {
      await cdp.send('HeapProfiler.collectGarbage');
      const { usedSize } = await cdp.send('Runtime.getHeapUsage');
      return Math.round(usedSize / 1024 / 1024);
    };
    await page.evaluate(() => {
      window.__bench.longTasks.length = 0;
      window.__bench.received = 0;
    });
    const heaps = [await heap()];
    const t0 = Date.now();
    // Scroll through the list the whole time: 4,000 px (about 120 rows) every 250 ms.
    await page.evaluate((px) => {
      const list = document.querySelector('.jobs-table .tbody');
      window.__scroll = setInterval(() => {
        if (px === 0) return;
        list.scrollTop =
          list.scrollTop + list.clientHeight >= list.scrollHeight ? 0 : list.scrollTop + px;
      }, 250);
    }, SCROLL_PX);
    // Long tasks are read per 5 s window, before each forced GC, so the GC itself is not counted.
    const longTasks = [];
    while (Date.now() - t0 < SECONDS * 1000) {
      await new Promise((r) => setTimeout(r, 5000));
      longTasks.push(...(await page.evaluate(() => window.__bench.longTasks.splice(0))));
      heaps.push(await heap());
      await page.evaluate(() => window.__bench.longTasks.splice(0));
    }
    const seconds = (Date.now() - t0) / 1000;
    const { received } = await page.evaluate(() => {
      clearInterval(window.__scroll);
      return window.__bench;
    });
    return { submitted, listed, total, longTasks, received, seconds, heaps };
  } finally {
    ticker?.kill('SIGTERM');
    await browser.close();
    await farm.stop();
  }
}

const a = await eventToDom();
console.log(`\n1. Event to DOM, fractal farm, ${SECONDS} s, ${a.received} job updates received`);
console.log(`   server event time -> row updated: ${summary(a.endToEnd)}`);
console.log(`   arrival on the page -> row updated: ${summary(a.onPage)}`);
console.log(
  `   long tasks: ${a.longTasks.length}${a.longTasks.length ? `, longest ${Math.max(...a.longTasks)} ms` : ''}`,
);

const b = await bigGroup();
console.log(
  `\n2. ${b.total} jobs in one group, ${TICKERS} of them ticking, list scrolled, ${Math.round(b.seconds)} s`,
);
console.log(
  `   ${BIG} jobs submitted in ${b.submitted.toFixed(1)} s; the view had all ${b.total} in ${b.listed.toFixed(1)} s`,
);
console.log(`   job updates received: ${(b.received / b.seconds).toFixed(0)} a second`);
console.log(
  `   long tasks (> 50 ms): ${b.longTasks.length}${b.longTasks.length ? `, longest ${Math.max(...b.longTasks)} ms` : ''}`,
);
console.log(`   JS heap after GC, every 5 s (MiB): ${b.heaps.join(' ')}`);
