// GET /metrics, /healthz and /readyz of a real server, with a job run through a real worker
// process: the numbers a Prometheus scraper reads move as the work goes through.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { backend, openTestEngine, sleep, tokenFor } from '@drover/engine/testing';
import type { TestEngine } from '@drover/engine/testing';
import { schemaVersion } from '@drover/engine';
import { startServer } from '../src/index.js';
import type { DroverServer } from '../src/index.js';
import { spawnWorker } from './processes.js';
import type { TestProcess } from './processes.js';

/** One sample of a Prometheus text exposition, by name and exact labels; undefined if absent. */
function sample(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      found[pair[1] ?? ''] = pair[2] ?? '';
    const same =
      Object.keys(found).length === Object.keys(labels).length &&
      Object.entries(labels).every(([k, v]) => found[k] === v);
    if (same) return Number(match[3]);
  }
  return undefined;
}

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  ms = 20_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe(`metrics and probes (${backend})`, () => {
  let t: TestEngine;
  let server: DroverServer;
  let admin: string;
  let workerToken: string;
  const children: TestProcess[] = [];

  before(async () => {
    t = await openTestEngine();
    admin = await tokenFor(t.engine);
    workerToken = await tokenFor(t.engine, { name: 'metrics workers', role: 'worker' });
    server = await startServer({ engine: t.engine, port: 0, leaseMs: 10_000, pollMs: 500 });
  });
  after(async () => {
    for (const p of children) p.child.kill('SIGKILL');
    await server.close();
    await t.close();
  });

  const scrape = async (url = server.url, headers: Record<string, string> = {}) => {
    const response = await fetch(`${url}/metrics`, { headers });
    assert.equal(response.status, 200, await response.clone().text());
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    return response.text();
  };
  const rpc = async (method: string, params: unknown) => {
    const response = await fetch(`${server.url}/rpc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
      body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }),
    });
    const body = (await response.json()) as { result?: unknown; error?: unknown };
    assert.equal(body.error, undefined, JSON.stringify(body.error));
    return body.result as Record<string, unknown>;
  };

  it('moves as a job is submitted and run through a real worker', async () => {
    const group = 'metered';
    const before = await scrape();
    assert.equal(sample(before, 'drover_database_up'), 1);
    assert.ok(sample(before, 'drover_nodejs_eventloop_lag_p99_seconds') !== undefined);
    assert.equal(sample(before, 'drover_workers_connected'), 0);

    // Waiting: nobody runs sleepy yet.
    const { job } = (await rpc('jobs.submit', {
      group,
      taskType: 'sleepy',
      params: { steps: 2, stepMs: 50 },
      items: [{ i: 1 }, { i: 2 }, { i: 3 }],
      allowUnknownType: true,
    })) as { job: { id: string } };
    const waiting = await until('the waiting tasks to be scraped', async () => {
      const text = await scrape();
      const age = sample(text, 'drover_queue_oldest_wait_seconds', { task_type: 'sleepy' });
      return age !== undefined && age > 0 ? text : undefined;
    });
    const labels = { group, task_type: 'sleepy' };
    assert.equal(sample(waiting, 'drover_tasks', { status: 'queued', ...labels }), 3);
    assert.equal(sample(waiting, 'drover_tasks', { status: 'succeeded', ...labels }), 0);
    assert.equal(sample(waiting, 'drover_queue_depth', { task_type: 'sleepy' }), 3);
    assert.equal(sample(waiting, 'drover_jobs_submitted_total', labels), 1);
    assert.equal(sample(waiting, 'drover_tasks_submitted_total', labels), 3);

    children.push(await spawnWorker(server.url, workerToken, 'metered-worker', 1));
    await until('the job to succeed', async () => {
      const record = (await rpc('jobs.get', { id: job.id })) as { status: string };
      return record.status === 'succeeded' ? true : undefined;
    });
    const done = await until('the finished job to be scraped', async () => {
      const text = await scrape();
      return sample(text, 'drover_tasks', { status: 'succeeded', ...labels }) === 3
        ? text
        : undefined;
    });
    assert.equal(sample(done, 'drover_tasks', { status: 'queued', ...labels }), 0);
    assert.equal(sample(done, 'drover_queue_depth', { task_type: 'sleepy' }), undefined);
    assert.equal(sample(done, 'drover_tasks_claimed_total', { task_type: 'sleepy' }), 3);
    assert.equal(sample(done, 'drover_attempts_ended_total', { outcome: 'succeeded' }), 3);
    assert.equal(sample(done, 'drover_task_run_seconds_count', { task_type: 'sleepy' }), 3);
    // Two steps of 50 ms each, three times.
    assert.ok((sample(done, 'drover_task_run_seconds_sum', { task_type: 'sleepy' }) ?? 0) >= 0.3);
    assert.equal(
      sample(done, 'drover_task_run_seconds_bucket', { task_type: 'sleepy', le: '+Inf' }),
      3,
    );
    assert.equal(sample(done, 'drover_workers', { state: 'online' }), 1);
    assert.equal(sample(done, 'drover_workers_connected'), 1);
    assert.ok((sample(done, 'drover_websocket_connections') ?? 0) >= 1);
    assert.ok((sample(done, 'drover_database_connections') ?? 0) >= 1);
  });

  it("counts reports refused for attempts that are not the worker's", async () => {
    const { WebSocket } = await import('ws');
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/ws`);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const answers = new Map<number, unknown>();
    ws.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString()) as { id?: number };
      if (typeof message.id === 'number') answers.set(message.id, message);
    });
    const call = async (id: number, method: string, params: unknown) => {
      ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
      return until(`the answer to ${method}`, () => Promise.resolve(answers.get(id)), 10_000);
    };
    await call(1, 'workers.hello', {
      name: 'stale-reporter',
      host: 'test',
      taskTypes: ['sleepy'],
      slots: 1,
      token: workerToken,
      held: [],
    });
    const stale = { attemptId: '987654321', token: '00000000-0000-4000-8000-000000000000' };
    const answer = (await call(2, 'tasks.complete', {
      reports: [{ ...stale, result: null }],
    })) as { result?: { refused: string[] } };
    assert.deepEqual(answer.result?.refused, [stale.attemptId]);
    ws.close();
    const text = await scrape();
    assert.equal(
      sample(text, 'drover_reports_refused_total', { report: 'result', reason: 'stale_lease' }),
      1,
    );
  });

  it('is open on a loopback address, and wants the metrics token or an admin behind a proxy', async () => {
    const metricsToken = 'scraper-secret-0123456789abcdef';
    const member = await tokenFor(t.engine, {
      name: 'a member',
      role: 'member',
      groups: { metered: 'read' },
    });
    const guarded = await startServer({
      engine: t.engine,
      port: 0,
      trustProxy: true,
      metricsToken,
    });
    try {
      const get = (headers: Record<string, string> = {}) =>
        fetch(`${guarded.url}/metrics`, { headers });
      const anonymous = await get();
      assert.equal(anonymous.status, 401);
      assert.equal(anonymous.headers.get('www-authenticate'), 'Bearer');
      const refusal = (await anonymous.json()) as { error: { code: string } };
      assert.equal(refusal.error.code, 'DROVER_E_UNAUTHORIZED');
      assert.equal((await get({ authorization: 'Bearer drover_not-a-token-at-all' })).status, 401);
      const forbidden = await get({ authorization: `Bearer ${member}` });
      assert.equal(forbidden.status, 403);
      assert.equal(
        ((await forbidden.json()) as { error: { code: string } }).error.code,
        'DROVER_E_FORBIDDEN',
      );
      const text = await scrape(guarded.url, { authorization: `Bearer ${metricsToken}` });
      assert.equal(sample(text, 'drover_database_up'), 1);
      await scrape(guarded.url, { authorization: `Bearer ${admin}` });
      // The metrics token opens nothing else.
      const call = await fetch(`${guarded.url}/rpc`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${metricsToken}` },
        body: JSON.stringify({ jsonrpc: '2.0', method: 'groups.list', params: {}, id: 1 }),
      });
      assert.equal(call.status, 401);
    } finally {
      await guarded.close();
    }
  });

  it('answers /metrics, /healthz and /readyz itself, never with the dashboard page', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'drover-metrics-dashboard-'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>Drover</title>');
    const withPage = await startServer({ engine: t.engine, port: 0, dashboardDir: dir });
    try {
      const accept = { accept: 'text/html,*/*' };
      const metrics = await fetch(`${withPage.url}/metrics`, { headers: accept });
      assert.equal(metrics.status, 200);
      assert.match(await metrics.text(), /^# HELP drover_/m);
      for (const probe of ['/healthz', '/readyz']) {
        const answer = await fetch(`${withPage.url}${probe}`, { headers: accept });
        assert.match(answer.headers.get('content-type') ?? '', /^application\/json/);
      }
      assert.equal((await fetch(`${withPage.url}/jobs/x`, { headers: accept })).status, 200);
    } finally {
      await withPage.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says alive without the database, and ready only on the schema this build knows', async () => {
    const { required } = await schemaVersion(t.engine.database);
    const alive = await fetch(`${server.url}/healthz`);
    assert.equal(alive.status, 200);
    assert.deepEqual(await alive.json(), { ok: true });
    const ready = await fetch(`${server.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { ok: true, database: t.engine.kind, schema: required });

    const db = t.engine.database;
    const [latest] = await db.query<{ name: string }>('SELECT name FROM migrations WHERE id = $1', [
      required,
    ]);
    assert.ok(latest);
    // The last migration missing: this build needs one more.
    await db.query('DELETE FROM migrations WHERE id = $1', [required]);
    try {
      const missing = await fetch(`${server.url}/readyz`);
      assert.equal(missing.status, 503);
      const body = (await missing.json()) as Record<string, unknown>;
      assert.equal(body.ok, false);
      assert.equal(body.error, 'DROVER_E_SCHEMA_TOO_OLD');
      assert.equal(body.schema, required - 1);
      assert.equal(body.required, required);
      assert.match(String(body.reason), /drover migrate/);
      assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    } finally {
      await db.query('INSERT INTO migrations (id, name) VALUES ($1, $2)', [required, latest.name]);
    }
    // A migration in the middle missing is not the schema this build knows either.
    const [first] = await db.query<{ name: string }>('SELECT name FROM migrations WHERE id = 1');
    assert.ok(first);
    await db.query('DELETE FROM migrations WHERE id = 1');
    try {
      const gap = await fetch(`${server.url}/readyz`);
      assert.equal(gap.status, 503);
      assert.equal(((await gap.json()) as { error: string }).error, 'DROVER_E_SCHEMA_TOO_OLD');
    } finally {
      await db.query('INSERT INTO migrations (id, name) VALUES (1, $1)', [first.name]);
    }
    // A newer Drover migrated the database.
    await db.query('INSERT INTO migrations (id, name) VALUES ($1, $2)', [required + 1, 'future']);
    try {
      const newer = await fetch(`${server.url}/readyz`);
      assert.equal(newer.status, 503);
      const body = (await newer.json()) as Record<string, unknown>;
      assert.equal(body.error, 'DROVER_E_SCHEMA_TOO_NEW');
      assert.match(String(body.reason), /upgrade/);
    } finally {
      await db.query('DELETE FROM migrations WHERE id = $1', [required + 1]);
    }
    assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
  });
});
