// A Python worker (workers/python) beside a TypeScript one on a real farm: the ported Julia
// renderer's PNGs, a shell template, a worker killed mid-task, a task cancelled while it runs, a
// task given back by a worker leaving at its drain deadline, and worker names: the two runtimes share one state directory, and a connected name is refused.
// `npm run test:python` (after `npm run build`); it needs Debian's python3-websockets for
// /usr/bin/python3, which .ci/run installs when it is missing.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PNG } from 'pngjs';
import { ROOT, freePort, until } from '../../apps/dashboard/test/farm.mjs';

const CLI = join(ROOT, 'packages/cli/dist/src/main.js');
const PYTHON = process.env.DROVER_PYTHON ?? '/usr/bin/python3';
const { juliaPixels } = await import(join(ROOT, 'examples/fractal/dist/src/index.js'));

/** The recipe's palette: the colour of escape index i is (i % 8 * 32, i % 16 * 16, i % 32 * 8). */
const PALETTE = new Set(
  Array.from({ length: 32 }, (_, i) => `${(i % 8) * 32},${(i % 16) * 16},${(i % 32) * 8}`),
);

/** A render that never escapes (c = 0 inside the unit disc): every pixel costs every iteration. */
const slowRender = (height) => ({
  width: 100,
  height,
  iterations: 1000,
  xa: -0.5,
  xb: 0.5,
  ya: -0.5,
  yb: 0.5,
  cr: 0,
  ci: 0,
});

describe('a Python worker beside a TypeScript one', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'drover-python-'));
  const dataDir = join(dir, 'data');
  const children = new Set();
  const logs = new Map();
  let url;
  let adminToken;
  let workerToken;
  /** Each worker keeps its identity in a directory of the test's, never in the home directory. */
  const stateDir = (name) => join(dir, 'state', name);

  /** Starts a process whose output is kept under `name`, for the assertions and for failures. */
  const start = (name, command, args, env = {}) => {
    const child = spawn(command, args, {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines = logs.get(name) ?? [];
    logs.set(name, lines);
    const keep = (chunk) => lines.push(...String(chunk).split('\n').filter(Boolean));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    children.add(child);
    child.once('exit', () => children.delete(child));
    return child;
  };

  /** Starts a Python worker whose output is kept under `label`, with `more` options. */
  const startPython = (label, ...more) =>
    start(
      label,
      PYTHON,
      [
        '-m',
        'drover_worker',
        '--server',
        url,
        '--token-file',
        join(dataDir, 'worker-token'),
        '--tasks',
        'workers/python/examples/fractal.py',
        '--shell-tasks',
        'examples/fractal/shell-tasks.json',
        ...more,
      ],
      { PYTHONPATH: join(ROOT, 'workers/python') },
    );

  /** py-1, the Python worker most cases use, the same worker at each start. */
  const startPy1 = () => startPython('py-1', '--name', 'py-1', '--state-dir', stateDir('py-1'));

  /** Starts a TypeScript worker whose output is kept under `label`, with `more` options. */
  const startTypeScript = (label, ...more) =>
    start(label, process.execPath, [CLI, 'worker', '--server', url, ...more], {
      DROVER_TOKEN: workerToken,
    });

  /** The name a worker printed when it joined. */
  const joinedAs = (label) =>
    until(
      async () =>
        (logs.get(label) ?? [])
          .map((l) => /^worker (\S+) \(\S+\) joined/.exec(l)?.[1])
          .find(Boolean),
      60_000,
      `${label} to join`,
    );

  const rpc = async (method, params) => {
    const response = await fetch(`${url}/rpc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
      body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }),
    });
    const body = await response.json();
    if (body.error) throw Object.assign(new Error(body.error.message), body.error);
    return body.result;
  };

  const download = async (artifact) => {
    const response = await fetch(`${url}/artifacts/${artifact.id}`, {
      headers: { authorization: `Bearer ${adminToken}` },
    });
    assert.equal(response.status, 200);
    return Buffer.from(await response.arrayBuffer());
  };

  const onlyTask = async (jobId) => {
    const { tasks } = await rpc('tasks.list', { jobId });
    assert.equal(tasks.length, 1);
    return tasks[0];
  };

  const finished = (jobId, ms = 60_000) =>
    until(
      async () => {
        const job = await rpc('jobs.get', { id: jobId });
        return ['succeeded', 'failed', 'cancelled'].includes(job.status) && job;
      },
      ms,
      `job ${jobId} to finish`,
    );

  const logLines = async (taskId) => {
    const { events } = await rpc('events.read', { topic: `task/${taskId}/log` });
    return events.flatMap((e) => e.data.lines.map((l) => l.line));
  };

  const workerByName = async (name) =>
    (await rpc('workers.list', {})).workers.find((w) => w.name === name);

  let server;
  let port;
  const startServer = async () => {
    server = start('server', process.execPath, [
      CLI,
      'server',
      '--data-dir',
      dataDir,
      '--port',
      String(port),
      '--rate-limit-per-minute',
      '100000',
    ]);
    await until(async () => (await fetch(`${url}/healthz`)).ok, 60_000, 'the server');
  };

  before(async () => {
    const probe = spawnSync(PYTHON, ['-c', 'import websockets'], { encoding: 'utf8' });
    assert.equal(
      probe.status,
      0,
      `${PYTHON} cannot import websockets: install Debian's python3-websockets (.ci/run does). ${probe.stderr ?? ''}`,
    );
    port = await freePort();
    url = `http://127.0.0.1:${port}`;
    await startServer();
    adminToken = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
    workerToken = readFileSync(join(dataDir, 'worker-token'), 'utf8').trim();
    // The TypeScript worker runs the demo's task types; only the Python one has the shell template.
    startTypeScript('ts-1', '--name', 'ts-1', '--state-dir', stateDir('ts-1'));
    startPy1();
    await until(
      async () =>
        (await rpc('workers.list', {})).workers.filter((w) => w.state === 'online').length === 2,
      60_000,
      'both workers online',
    );
  });

  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 200));
    rmSync(dir, { recursive: true, force: true });
  });

  it('says hello with the same fields as the TypeScript worker', async () => {
    const py = await workerByName('py-1');
    assert.deepEqual(py.taskTypes.sort(), ['demo.shell', 'fractal.julia-py']);
    assert.equal(py.slots, 1);
    assert.equal(py.state, 'online');
    const { taskTypes } = await rpc('taskTypes.list', {});
    const julia = taskTypes.find((t) => t.name === 'fractal.julia-py');
    assert.equal(julia.workers, 1);
    assert.deepEqual(julia.paramsSchema.required, [
      'width',
      'height',
      'iterations',
      'xa',
      'xb',
      'ya',
      'yb',
      'cr',
      'ci',
    ]);
    // Heartbeats carry the host's stats, as the TypeScript worker's do.
    await until(async () => (await workerByName('py-1')).stats.memoryTotal > 0, 30_000, 'stats');
  });

  it('stops at once with the reason when the server refuses its token', async () => {
    const tokenFile = join(dir, 'wrong-token');
    writeFileSync(tokenFile, 'drover_not-a-token-of-this-farm\n');
    const child = start(
      'py-refused',
      PYTHON,
      [
        '-m',
        'drover_worker',
        '--server',
        url,
        '--token-file',
        tokenFile,
        '--tasks',
        'workers/python/examples/fractal.py',
        '--state-dir',
        stateDir('py-refused'),
      ],
      { PYTHONPATH: join(ROOT, 'workers/python') },
    );
    const [code] = await once(child, 'exit');
    assert.equal(code, 1);
    assert.ok(logs.get('py-refused').some((l) => l.includes('The server refused this worker')));
  });

  it('renders PNGs of the recipe, the same pixels as the TypeScript renderer', async () => {
    const items = [
      { width: 160, height: 120, iterations: 256, cr: -0.8, ci: 0.156 },
      { width: 97, height: 61, iterations: 128, cr: 0.285, ci: 0.01 },
    ];
    const { job } = await rpc('jobs.submit', {
      group: 'python',
      taskType: 'fractal.julia-py',
      params: { xa: -1.6, xb: 1.6, ya: -1.2, yb: 1.2 },
      items,
    });
    // The TypeScript worker runs its own task types at the same time.
    const { job: hello } = await rpc('jobs.submit', { group: 'python', taskType: 'hello' });
    assert.equal((await finished(job.id)).status, 'succeeded');
    assert.equal((await finished(hello.id)).status, 'succeeded');
    const helloTask = await onlyTask(hello.id);
    assert.equal(helloTask.result, 'hi!');
    assert.equal(helloTask.workerId, (await workerByName('ts-1')).id);

    const { tasks } = await rpc('tasks.list', { jobId: job.id });
    const py = await workerByName('py-1');
    for (const task of tasks) {
      assert.equal(task.workerId, py.id);
      const { artifacts } = await rpc('artifacts.list', { taskId: task.id });
      assert.equal(artifacts.length, 1);
      const [artifact] = artifacts;
      assert.equal(artifact.name, `julia-${task.id}.png`);
      assert.equal(artifact.contentType, 'image/png');
      const bytes = await download(artifact);
      // The server stored it only after checking the sha256 the worker sent.
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      assert.equal(sha256, artifact.sha256);
      assert.equal(task.result.sha256, sha256);
      const png = PNG.sync.read(bytes);
      assert.deepEqual([png.width, png.height], [task.params.width, task.params.height]);
      assert.deepEqual([task.result.width, task.result.height], [png.width, png.height]);
      const rgb = juliaPixels(task.params);
      const colours = new Set();
      for (let p = 0; p < png.width * png.height; p++) {
        const [r, g, b] = [png.data[p * 4], png.data[p * 4 + 1], png.data[p * 4 + 2]];
        assert.deepEqual([r, g, b], [rgb[p * 3], rgb[p * 3 + 1], rgb[p * 3 + 2]], `pixel ${p}`);
        colours.add(`${r},${g},${b}`);
      }
      for (const colour of colours) assert.ok(PALETTE.has(colour), `${colour} is in the palette`);
      assert.ok(colours.size > 4, 'a render of several colours');
      assert.ok((await logLines(task.id)).some((l) => l.startsWith(`rendered ${png.width}x`)));
    }
  });

  it('refuses a misspelt param before anything runs, naming it', async () => {
    await assert.rejects(
      rpc('jobs.submit', {
        group: 'python',
        taskType: 'fractal.julia-py',
        params: { ...slowRender(10), widht: 3 },
      }),
      (error) => error.data?.code === 'DROVER_E_INVALID_PARAMS' && /widht/.test(error.message),
    );
  });

  it('runs a shell template through the same checks', async () => {
    const message = 'hi; rm -rf / from Python';
    const { job } = await rpc('jobs.submit', {
      group: 'python',
      taskType: 'demo.shell',
      params: { message },
    });
    assert.equal((await finished(job.id)).status, 'succeeded');
    const task = await onlyTask(job.id);
    assert.equal(task.workerId, (await workerByName('py-1')).id);
    assert.equal(task.result.exitCode, 0);
    const lines = await logLines(task.id);
    for (const i of [1, 2, 3])
      assert.ok(lines.includes(`step ${i} of 3: ${message}`), lines.join('\n'));
    const { artifacts } = await rpc('artifacts.list', { taskId: task.id });
    assert.deepEqual(
      artifacts.map((a) => a.name),
      ['message.txt'],
    );
    assert.equal((await download(artifacts[0])).toString('utf8'), `${message}\n`);
  });

  it('loses nothing when the Python worker is killed mid-task: the task runs again once', async () => {
    const { job } = await rpc('jobs.submit', {
      group: 'python',
      taskType: 'fractal.julia-py',
      params: slowRender(400),
    });
    const py = [...children].find((c) => c.spawnargs.includes('py-1'));
    const first = await until(
      async () => {
        const task = await onlyTask(job.id);
        return task.status === 'running' && task.progress > 0 && task;
      },
      60_000,
      'the render under way',
    );
    py.kill('SIGKILL');
    // The closed socket gives the attempt up at once; the same worker, started again, takes it.
    await until(
      async () => (await rpc('tasks.attempts', { id: first.id })).attempts[0]?.status === 'lost',
      30_000,
      'the killed attempt given up',
    );
    startPy1();
    assert.equal((await finished(job.id, 120_000)).status, 'succeeded');

    const task = await onlyTask(job.id);
    assert.equal(task.id, first.id);
    const { attempts } = await rpc('tasks.attempts', { id: task.id });
    assert.deepEqual(
      attempts.map((a) => a.status),
      ['lost', 'succeeded'],
    );
    assert.equal(attempts[0].error.code, 'DROVER_E_WORKER_LOST');
    const { artifacts } = await rpc('artifacts.list', { taskId: task.id });
    assert.equal(artifacts.length, 1, 'one image: the killed attempt stored none');
    assert.equal(artifacts[0].attemptId, attempts[1].id);
    assert.equal(task.result.sha256, artifacts[0].sha256);
    // One outcome: the job's events record the task's success once.
    const { events } = await rpc('events.read', { topic: `job/${job.id}` });
    const successes = events.filter(
      (e) =>
        e.kind === 'tasks.updated' &&
        e.data.tasks.some((t) => t.id === task.id && t.status === 'succeeded'),
    );
    assert.equal(successes.length, 1);
  });

  it('re-attaches its running task when the server comes back, its reports kept meanwhile', async () => {
    const { job } = await rpc('jobs.submit', {
      group: 'python',
      taskType: 'fractal.julia-py',
      params: slowRender(600),
    });
    await until(
      async () => {
        const task = await onlyTask(job.id);
        return task.status === 'running' && task.progress > 0;
      },
      60_000,
      'the render under way',
    );
    const stoppedAt = Date.now();
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGTERM');
    await exited;
    await startServer();
    const downMs = Date.now() - stoppedAt;
    assert.equal((await finished(job.id, 120_000)).status, 'succeeded');
    const task = await onlyTask(job.id);
    // The same attempt finished: the worker said hello holding it, and the lease still held.
    const { attempts } = await rpc('tasks.attempts', { id: task.id });
    assert.deepEqual(
      attempts.map((a) => a.status),
      ['succeeded'],
      `the server was away ${downMs} ms`,
    );
    const { artifacts } = await rpc('artifacts.list', { taskId: task.id });
    assert.equal(artifacts.length, 1);
    assert.equal(task.result.sha256, artifacts[0].sha256);
    assert.ok((await logLines(task.id)).some((l) => l.startsWith('rendered 100x600')));
    const lines = logs.get('py-1');
    assert.ok(lines.some((l) => l.includes('disconnected from the server; reconnecting')));
    assert.ok(lines.filter((l) => l.includes('registered as py-1')).length >= 2);
  });

  it('stops a cancelled task cooperatively and records it cancelled', async () => {
    const { job } = await rpc('jobs.submit', {
      group: 'python',
      taskType: 'fractal.julia-py',
      params: slowRender(4000),
    });
    await until(
      async () => {
        const task = await onlyTask(job.id);
        return task.status === 'running' && task.progress > 0;
      },
      60_000,
      'the long render under way',
    );
    const task = await onlyTask(job.id);
    const cancelledAt = Date.now();
    await rpc('tasks.cancel', { id: task.id, reason: 'not needed after all' });
    assert.equal((await finished(job.id, 30_000)).status, 'cancelled');
    // A row takes milliseconds; the whole render would take about a minute.
    assert.ok(Date.now() - cancelledAt < 15_000, 'stopped at the next row, not at the end');
    const after = await onlyTask(job.id);
    assert.equal(after.status, 'cancelled');
    const { attempts } = await rpc('tasks.attempts', { id: task.id });
    assert.deepEqual(
      attempts.map((a) => a.status),
      ['cancelled'],
    );
    assert.deepEqual((await rpc('artifacts.list', { taskId: task.id })).artifacts, []);
    assert.ok(logs.get('py-1').some((l) => l.includes(`stopping attempt ${attempts[0].id}`)));

    // The worker is free again and takes the next task.
    const { job: next } = await rpc('jobs.submit', {
      group: 'python',
      taskType: 'fractal.julia-py',
      params: slowRender(4),
    });
    assert.equal((await finished(next.id)).status, 'succeeded');
  });

  it('stops cleanly on SIGTERM and the farm sees it offline', async () => {
    const py = [...children].find((c) => c.spawnargs.includes('py-1'));
    py.kill('SIGTERM');
    const [code] = await once(py, 'exit');
    assert.equal(code, 0);
    assert.ok(!logs.get('py-1').at(-1).includes('reconnecting'), logs.get('py-1').at(-1));
    await until(async () => (await workerByName('py-1')).state === 'offline', 30_000, 'offline');
  });

  it('gives back a task unfinished at its drain deadline, uncharged: another worker runs it', async () => {
    // py-1 is gone: this worker is the only one for the task type until the second starts.
    const leaving = startPython(
      'py-leaving',
      '--name',
      'py-leaving',
      '--state-dir',
      stateDir('py-leaving'),
      '--drain-seconds',
      '1',
    );
    await until(
      async () => (await workerByName('py-leaving'))?.state === 'online',
      60_000,
      'py-leaving online',
    );
    const { job } = await rpc('jobs.submit', {
      group: 'python',
      taskType: 'fractal.julia-py',
      params: slowRender(800),
      maxAttempts: 1,
    });
    const first = await until(
      async () => {
        const task = await onlyTask(job.id);
        return task.status === 'running' && task.progress > 0 && task;
      },
      60_000,
      'the render under way',
    );
    const stoppedAt = Date.now();
    leaving.kill('SIGTERM');
    const [code] = await once(leaving, 'exit');
    assert.equal(code, 0, logs.get('py-leaving').join('\n'));
    // The render takes seconds more; the worker waited its second, then gave the task back.
    assert.ok(Date.now() - stoppedAt < 10_000, 'left at its deadline');
    const released = await onlyTask(job.id);
    assert.equal(released.status, 'queued');
    assert.equal(released.maxAttempts, 2, 'the attempt given back is not charged');
    const [attempt] = (await rpc('tasks.attempts', { id: first.id })).attempts;
    assert.equal(attempt.status, 'released');
    assert.equal(attempt.error.code, 'DROVER_E_WORKER_RELEASED');
    assert.match(attempt.error.message, /shut down before the task finished/);
    assert.ok(
      logs.get('py-leaving').some((l) => l.includes(`stopping attempt ${attempt.id}`)),
      logs.get('py-leaving').join('\n'),
    );

    const after = startPython(
      'py-after',
      '--name',
      'py-after',
      '--state-dir',
      stateDir('py-after'),
    );
    assert.equal((await finished(job.id, 120_000)).status, 'succeeded');
    const task = await onlyTask(job.id);
    assert.equal(task.attempt, 2);
    assert.equal(task.workerId, (await workerByName('py-after')).id);
    const { attempts } = await rpc('tasks.attempts', { id: task.id });
    assert.deepEqual(
      attempts.map((a) => [a.number, a.status, a.workerId]),
      [
        [1, 'released', (await workerByName('py-leaving')).id],
        [2, 'succeeded', task.workerId],
      ],
    );
    const { artifacts } = await rpc('artifacts.list', { taskId: task.id });
    assert.equal(artifacts.length, 1, 'one image: the released attempt stored none');
    assert.equal(artifacts[0].attemptId, attempts[1].id);
    after.kill('SIGTERM');
    assert.deepEqual(await once(after, 'exit'), [0, null]);
  });

  it("stops with the server's reason when asking for the name of a connected worker", async () => {
    // Another machine's worker (another state directory) asking for the TypeScript worker's name.
    const child = startPython('py-intruder', '--name', 'ts-1', '--state-dir', stateDir('intruder'));
    const [code] = await once(child, 'exit');
    const lines = logs.get('py-intruder');
    assert.equal(code, 1, lines.join('\n'));
    assert.ok(
      lines.some((l) => l.includes('A worker named ts-1 is connected already')),
      lines.join('\n'),
    );
    assert.equal((await workerByName('ts-1')).state, 'online', 'the first one keeps its name');
  });

  it('gives each worker without --name its own name from one state directory', async () => {
    // Two Python workers and a TypeScript one on one host, sharing the state directory.
    const shared = stateDir('shared');
    const labels = ['py-default-a', 'py-default-b', 'ts-default'];
    const workers = [
      startPython(labels[0], '--state-dir', shared),
      startPython(labels[1], '--state-dir', shared),
      startTypeScript(labels[2], '--state-dir', shared),
    ];
    const names = await Promise.all(labels.map(joinedAs));
    assert.equal(new Set(names).size, 3, names.join(' '));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    for (const [i, label] of labels.entries()) {
      assert.equal((await workerByName(names[i])).state, 'online', names[i]);
      const hellos = logs.get(label).filter((l) => l.includes('registered as'));
      assert.equal(hellos.length, 1, `${label}: none knocked another off`);
    }
    // Stopped, each gives its identity back and keeps its name for its next start.
    const exits = workers.map((child) => once(child, 'exit'));
    for (const child of workers) child.kill('SIGTERM');
    assert.deepEqual(
      (await Promise.all(exits)).map(([code]) => code),
      [0, 0, 0],
    );
    assert.deepEqual(readdirSync(join(shared, 'workers')).sort(), [
      'default-1.json',
      'default-2.json',
      'default-3.json',
    ]);
  });
});
