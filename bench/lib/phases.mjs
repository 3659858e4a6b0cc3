// The phases of `npm run bench` (bench/run.mjs) and their checks: worker processes and the timed
// drain, the bulk enqueue, the one-by-one submissions and the latency run, each on a fresh queue
// of one system, and the check that every task ran exactly once.
import { fork } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { sleep, within } from './common.mjs';

export const PHASES = ['enqueue', 'drain1', 'drain2', 'single', 'latency'];
export const PHASE_LABELS = {
  enqueue: 'bulk enqueue',
  drain1: 'drain, 1 worker process',
  drain2: 'drain, 2 worker processes',
  single: 'one-by-one submit, 50 in flight',
  latency: 'latency',
};
/** Tasks a worker process (or the latency worker) runs at once. */
export const CONCURRENCY = 50;
/** Submissions in flight in the one-by-one phase. */
export const IN_FLIGHT = 50;
/** The latency phase: this many tasks, one every LATENCY_EVERY_MS. */
export const LATENCY_TASKS = 500;
export const LATENCY_EVERY_MS = 10;
/** How often a drain asks the store how many tasks are done. */
export const POLL_MS = 50;

// Worker processes.

/**
 * Forks a worker process (see bench/peers/worker-process.mjs for its side): `ready` resolves once
 * it has loaded, `go()` starts it, `stop()` stops it and resolves with the keys its handlers ran.
 * `config` goes on its command line; secrets (a token) go in `env`, added to its environment.
 */
function forkWorker({ script, config, env }) {
  const child = fork(script, [JSON.stringify(config)], {
    env: { ...process.env, ...env },
    // The child's stdout goes to stderr too: stdout is for the tables.
    stdio: ['ignore', 2, 2, 'ipc'],
  });
  let onReady;
  let onKeys;
  let failed;
  const ready = new Promise((resolve, reject) => (onReady = { resolve, reject }));
  const keys = new Promise((resolve, reject) => (onKeys = { resolve, reject }));
  keys.catch(() => undefined);
  ready.catch(() => undefined);
  const fail = (error) => {
    failed ??= error;
    onReady.reject(error);
    onKeys.reject(error);
  };
  child.on('message', (message) => {
    if (message?.type === 'ready') onReady.resolve();
    else if (message?.type === 'keys') onKeys.resolve(message.keys);
    else if (message?.type === 'error') fail(new Error(`worker process: ${message.message}`));
  });
  child.on('exit', (code, signal) =>
    fail(new Error(`a worker process exited (${signal ?? code}) before it was done`)),
  );
  return {
    ready,
    get failed() {
      return failed;
    },
    go: () => child.send({ type: 'go' }),
    stop: () => {
      if (child.connected) child.send({ type: 'stop' });
      return keys;
    },
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/**
 * Starts `workers` worker processes on queue q holding n tasks and times them from the moment
 * they are told to start until the store counts n tasks done. Then stops them and gathers the
 * keys their handlers ran.
 */
async function drain(system, q, n, workers, pollMs = POLL_MS) {
  const children = Array.from({ length: workers }, (_, w) =>
    forkWorker(system.worker(q, w, CONCURRENCY)),
  );
  try {
    await Promise.all(children.map((c) => c.ready));
    const started = performance.now();
    for (const c of children) c.go();
    const deadline = started + Math.max(120, n / 20) * 1000;
    let done = 0;
    for (;;) {
      done = await system.completed(q, n);
      if (done >= n) break;
      const failed = children.find((c) => c.failed)?.failed;
      if (failed) throw failed;
      if (performance.now() > deadline)
        throw new Error(
          `${done} of ${n} tasks done after ${Math.round((deadline - started) / 1000)} s`,
        );
      await sleep(pollMs);
    }
    const seconds = (performance.now() - started) / 1000;
    const stopped = Promise.all(children.map((c) => c.stop()));
    const keys = (await within(stopped, 60_000, 'worker processes did not stop in 60 s')).flat();
    return { seconds, keys, done };
  } finally {
    for (const c of children) c.kill();
  }
}

/** '' when every key 0..n-1 ran exactly once and the store counts n done; else what is wrong. */
function checkKeys(keys, n, done) {
  const problems = [];
  const seen = new Uint8Array(n);
  let twice = 0;
  let foreign = 0;
  for (const key of keys) {
    if (!Number.isInteger(key) || key < 0 || key >= n) foreign += 1;
    else if (seen[key]) twice += 1;
    else seen[key] = 1;
  }
  const ran = seen.reduce((sum, s) => sum + s, 0);
  if (twice > 0) problems.push(`${twice} tasks ran twice`);
  if (ran < n) problems.push(`${n - ran} tasks never ran`);
  if (foreign > 0) problems.push(`${foreign} unknown keys`);
  if (done !== n) problems.push(`the store counts ${done} done, expected ${n}`);
  return problems.join('; ');
}

// The phases. Each returns its figures and its check ('' when all is well).

/**
 * Before the timed phases of a repetition: a small bulk enqueue and a few single submissions,
 * thrown away, so that no system's first timed call pays for loading scripts or code.
 */
export async function warmUp(system, tag) {
  const q = await system.newQueue(tag);
  try {
    await system.enqueueBulk(q, 200);
    for (let i = 0; i < 20; i++) await system.submitOne(q, i);
  } finally {
    await system.dropQueue(q);
  }
}

/** Bulk enqueue of n (timed), then a drain by `workers` processes (timed). */
export async function enqueueAndDrain(system, tag, workers, n) {
  const q = await system.newQueue(tag);
  try {
    const started = performance.now();
    await system.enqueueBulk(q, n);
    const enqueueSeconds = (performance.now() - started) / 1000;
    const { seconds, keys, done } = await drain(system, q, n, workers);
    return { enqueue: n / enqueueSeconds, drain: n / seconds, check: checkKeys(keys, n, done) };
  } finally {
    await system.dropQueue(q);
  }
}

/** n single submissions, IN_FLIGHT at a time (timed), then drained by 2 processes to check. */
export async function oneByOne(system, tag, n) {
  const q = await system.newQueue(tag);
  try {
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < n) await system.submitOne(q, next++);
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    // Not timed: asking the store less often leaves more of the machine to the drain.
    const { keys, done } = await drain(system, q, n, 2, 250);
    return { single: n / seconds, check: checkKeys(keys, n, done) };
  } finally {
    await system.dropQueue(q);
  }
}

function percentile(values, p) {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/**
 * One idle, connected worker in this process; LATENCY_TASKS tasks submitted one every
 * LATENCY_EVERY_MS, each carrying its submission time. Submit → handler start is measured in the
 * handler; submit → completion is when this client learns of it (where the system tells it).
 */
export async function latency(system, tag) {
  const q = await system.newQueue(tag);
  let worker;
  try {
    const keys = [];
    const startMs = [];
    worker = await system.startLatencyWorker(q, CONCURRENCY, (key, at, params) => {
      keys.push(key);
      startMs.push(at - params.t);
    });
    await sleep(1000); // connected and idle
    const doneMs = [];
    const submissions = [];
    const first = performance.now();
    for (let i = 0; i < LATENCY_TASKS; i++) {
      const wait = first + i * LATENCY_EVERY_MS - performance.now();
      if (wait > 0) await sleep(wait);
      const t = performance.now();
      submissions.push(
        system.submitWatched(q, i, t).then((seenAt) => {
          if (seenAt !== undefined) doneMs.push(seenAt - t);
        }),
      );
    }
    const deadline = performance.now() + 120_000;
    await within(Promise.all(submissions), 120_000, 'submissions not all seen done after 120 s');
    let done = 0;
    while ((done = await system.completed(q, LATENCY_TASKS)) < LATENCY_TASKS) {
      if (performance.now() > deadline) break;
      await sleep(POLL_MS);
    }
    const check = checkKeys(keys, LATENCY_TASKS, done);
    return {
      startP50: percentile(startMs, 50),
      startP99: percentile(startMs, 99),
      doneP50: percentile(doneMs, 50),
      doneP99: percentile(doneMs, 99),
      check,
    };
  } finally {
    await worker?.stop();
    await system.dropQueue(q);
  }
}
