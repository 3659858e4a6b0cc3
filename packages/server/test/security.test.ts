// Who may do what: every client method and file route for each role, over HTTP and the
// WebSocket. Each row fails if the check behind it is removed.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { artifactHttp, methods } from '@drover/protocol';
import type { Assignment, GroupRecord, JobRecord } from '@drover/protocol';
import { backend, claimFresh, openTestEngine, sleep, tokenFor } from '@drover/engine/testing';
import type { TestEngine } from '@drover/engine/testing';
import { startServer } from '../src/index.js';
import type { DroverServer } from '../src/index.js';

type Who = 'admin' | 'writer' | 'reader' | 'outsider' | 'worker' | 'nobody';
const EVERYONE: Who[] = ['admin', 'writer', 'reader', 'outsider', 'worker', 'nobody'];
/** What a call should get: a result, or the error code. */
type Outcome = 'ok' | 'UNAUTHORIZED' | 'FORBIDDEN' | 'NOT_FOUND';

interface RpcAnswer {
  result?: unknown;
  error?: { code: number; message: string; data?: { code: string } };
}

describe(`who may do what (${backend})`, () => {
  let t: TestEngine;
  let server: DroverServer;
  const tokens = {} as Record<Exclude<Who, 'nobody'>, string>;
  let held: Assignment;
  let alphaJob: JobRecord;
  let betaJob: JobRecord;
  let artifactId: string;
  let workerId: string;
  let spareTokenId: string;
  let webhookId: string;

  before(async () => {
    t = await openTestEngine();
    server = await startServer({ engine: t.engine, port: 0 });
    tokens.admin = await tokenFor(t.engine);
    tokens.writer = await tokenFor(t.engine, {
      name: 'writer',
      role: 'member',
      groups: { alpha: 'write' },
    });
    tokens.reader = await tokenFor(t.engine, {
      name: 'reader',
      role: 'member',
      groups: { alpha: 'read' },
    });
    tokens.outsider = await tokenFor(t.engine, {
      name: 'outsider',
      role: 'member',
      groups: { beta: 'write' },
    });
    tokens.worker = await tokenFor(t.engine, { name: 'worker', role: 'worker' });
    [held] = (await claimFresh(t.engine, 1, 'alpha')) as [Assignment];
    alphaJob = await t.engine.getJob(held.task.jobId);
    betaJob = (await t.engine.submit({ group: 'beta', taskType: 'hello', params: {} })).job;
    const bytes = Buffer.from('frame bytes');
    const upload = await fetch(`${server.url}${artifactHttp.uploadPath}?name=frame.txt`, {
      method: 'PUT',
      headers: {
        authorization: `Bearer ${held.attemptId}.${held.token}`,
        'content-type': 'text/plain',
        [artifactHttp.sha256Header]: createHash('sha256').update(bytes).digest('hex'),
      },
      body: bytes,
    });
    assert.equal(upload.status, 201);
    artifactId = ((await upload.json()) as { id: string }).id;
    workerId = (await t.engine.listWorkers())[0]?.id ?? '';
    spareTokenId = (await t.engine.accounts.createToken({ name: 'spare', role: 'admin' })).token.id;
    // A schedule of alpha's for the schedule rows, and one to remove for each caller.
    const scheduled = { group: 'alpha', taskType: 'hello', params: {} };
    await t.engine.schedules.add({ name: 'alpha-nightly', cron: '0 2 * * *', job: scheduled });
    for (let i = 0; i < EVERYONE.length; i++)
      await t.engine.schedules.add({ name: `alpha-rm-${i}`, cron: '0 2 * * *', job: scheduled });
    webhookId = (
      await t.engine.webhooks.add({ url: 'http://127.0.0.1:9/hook', events: ['worker.offline'] })
    ).webhook.id;
  });
  after(async () => {
    await server.close();
    await t.close();
  });

  async function rpc(who: Who, method: string, params: unknown): Promise<RpcAnswer> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (who !== 'nobody') headers.authorization = `Bearer ${tokens[who]}`;
    const response = await fetch(`${server.url}/rpc`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }),
    });
    return (await response.json()) as RpcAnswer;
  }

  function outcomeOf(answer: RpcAnswer): string {
    if (answer.error === undefined) return 'ok';
    return (answer.error.data?.code ?? String(answer.error.code)).replace(/^DROVER_E_/, '');
  }

  /**
   * One row of the matrix: `allowed` get through (a result, or an error about the request itself,
   * never one about who asks); the rest get `denied`, or UNAUTHORIZED for nobody.
   */
  interface Row {
    method: string;
    params: () => unknown;
    allowed: Who[];
    /** What the others get (nobody always gets UNAUTHORIZED). @defaultValue FORBIDDEN */
    denied?: Partial<Record<Who, Outcome>>;
    label?: string;
  }
  const job = () => ({ id: alphaJob.id });
  const schedule = () => ({ name: 'alpha-nightly' });
  let removals = 0;
  const task = () => ({ id: held.task.id });
  const hidden = { outsider: 'NOT_FOUND' } as const;
  const readers: Who[] = ['admin', 'writer', 'reader'];
  const writers: Who[] = ['admin', 'writer'];
  const viewers: Who[] = ['admin', 'writer', 'reader', 'outsider'];
  const rows: Row[] = [
    {
      method: 'jobs.submit',
      params: () => ({ group: 'alpha', taskType: 'hello', params: {} }),
      allowed: writers,
    },
    { method: 'jobs.get', params: job, allowed: readers, denied: hidden },
    { method: 'jobs.list', params: () => ({ group: 'alpha' }), allowed: readers },
    {
      method: 'jobs.cancel',
      params: () => ({ id: betaJob.id }),
      allowed: ['admin', 'outsider'],
      denied: { writer: 'NOT_FOUND', reader: 'NOT_FOUND' },
    },
    { method: 'jobs.retry', params: job, allowed: writers, denied: hidden },
    {
      method: 'jobs.setPriority',
      params: () => ({ id: alphaJob.id, priority: 5 }),
      allowed: writers,
      denied: hidden,
    },
    // Jobs and groups edited while they run.
    { method: 'jobs.pause', params: job, allowed: writers, denied: hidden },
    { method: 'jobs.resume', params: job, allowed: writers, denied: hidden },
    {
      method: 'jobs.extend',
      params: () => ({ id: alphaJob.id, items: [{ n: 2 }] }),
      allowed: writers,
      denied: hidden,
    },
    {
      method: 'jobs.update',
      params: () => ({ id: alphaJob.id, maxAttempts: 4 }),
      allowed: writers,
      denied: hidden,
    },
    { method: 'groups.get', params: () => ({ name: 'alpha' }), allowed: readers },
    { method: 'groups.pause', params: () => ({ name: 'alpha' }), allowed: writers },
    { method: 'groups.resume', params: () => ({ name: 'alpha' }), allowed: writers },
    { method: 'taskTypes.list', params: () => ({}), allowed: viewers },
    // Limits are the farm's policy between groups: an admin's.
    {
      method: 'groups.setLimits',
      params: () => ({ group: 'alpha', weight: 1 }),
      allowed: ['admin'],
    },
    {
      method: 'taskTypes.setLimits',
      params: () => ({ taskType: 'nobody.runs.this', maxRunning: null }),
      allowed: ['admin'],
    },
    { method: 'jobs.blocklist', params: job, allowed: readers, denied: hidden },
    { method: 'jobs.unblock', params: job, allowed: writers, denied: hidden },
    { method: 'tasks.why', params: task, allowed: readers, denied: hidden },
    { method: 'groups.list', params: () => ({}), allowed: viewers },
    { method: 'tasks.get', params: task, allowed: readers, denied: hidden },
    {
      method: 'tasks.list',
      params: () => ({ jobId: alphaJob.id }),
      allowed: readers,
      denied: hidden,
    },
    { method: 'tasks.attempts', params: task, allowed: readers, denied: hidden },
    { method: 'tasks.cancel', params: task, allowed: writers, denied: hidden },
    { method: 'workers.list', params: () => ({}), allowed: viewers },
    { method: 'farm.overview', params: () => ({}), allowed: viewers },
    { method: 'farm.history', params: () => ({}), allowed: viewers },
    { method: 'jobs.timeline', params: job, allowed: readers, denied: hidden },
    { method: 'workers.disable', params: () => ({ id: workerId }), allowed: ['admin'] },
    { method: 'workers.drain', params: () => ({ id: workerId }), allowed: ['admin'] },
    { method: 'workers.enable', params: () => ({ id: workerId }), allowed: ['admin'] },
    {
      method: 'artifacts.list',
      params: () => ({ jobId: alphaJob.id }),
      allowed: readers,
      denied: hidden,
    },
    {
      method: 'artifacts.get',
      params: () => ({ id: artifactId }),
      allowed: readers,
      denied: hidden,
    },
    {
      method: 'events.read',
      params: () => ({ topic: `jobs/alpha` }),
      allowed: readers,
      label: 'jobs/<group>',
    },
    {
      method: 'events.head',
      params: () => ({ topic: `job/${alphaJob.id}` }),
      allowed: readers,
      denied: hidden,
      label: 'job/<id>',
    },
    {
      method: 'events.read',
      params: () => ({ topic: `task/${held.task.id}/log` }),
      allowed: readers,
      denied: hidden,
      label: 'task/<id>/log',
    },
    {
      method: 'events.read',
      params: () => ({ topic: 'workers' }),
      allowed: viewers,
      label: 'workers',
    },
    {
      method: 'events.read',
      params: () => ({ topic: 'refusals' }),
      allowed: ['admin'],
      label: 'refusals',
    },
    // Over HTTP these say they need the WebSocket, but only to whoever may subscribe at all.
    {
      method: 'events.subscribe',
      params: () => ({ subscription: 's1', topic: 'jobs/beta' }),
      allowed: ['admin', 'outsider'],
    },
    {
      method: 'events.unsubscribe',
      params: () => ({ subscription: 's1' }),
      allowed: ['admin', 'writer', 'reader', 'outsider', 'worker'],
    },
    {
      method: 'auth.login',
      params: () => ({ token: tokens.reader }),
      allowed: EVERYONE.filter((w) => w !== 'nobody'),
    },
    { method: 'auth.whoami', params: () => ({}), allowed: EVERYONE.filter((w) => w !== 'nobody') },
    {
      method: 'auth.loginLink',
      params: () => ({}),
      allowed: EVERYONE.filter((w) => w !== 'nobody'),
    },
    {
      method: 'tokens.create',
      params: () => ({ name: 'made', role: 'member', groups: { alpha: 'read' } }),
      allowed: ['admin'],
    },
    { method: 'tokens.list', params: () => ({}), allowed: ['admin'] },
    { method: 'tokens.revoke', params: () => ({ id: spareTokenId }), allowed: ['admin'] },
    // A running job: the writers' call is refused for that (a conflict), not for who asks.
    { method: 'jobs.remove', params: job, allowed: writers, denied: hidden },
    {
      method: 'jobs.apply',
      params: () => ({ action: 'remove', filter: { group: 'alpha', ids: [alphaJob.id] } }),
      allowed: writers,
    },
    {
      method: 'workers.apply',
      params: () => ({ action: 'enable', filter: { ids: [workerId] } }),
      allowed: ['admin'],
    },
    {
      method: 'sites.add',
      params: () => ({ name: 'matrix', url: 'http://127.0.0.1:9', token: 'a-site-token-1234' }),
      allowed: ['admin'],
    },
    { method: 'sites.list', params: () => ({}), allowed: ['admin'] },
    { method: 'sites.remove', params: () => ({ name: 'matrix' }), allowed: ['admin'] },
    // Schedules: the group of the schedule's job decides, as for a job.
    {
      method: 'schedules.add',
      params: () => ({
        name: 'alpha-added',
        cron: '*/5 * * * *',
        job: { group: 'alpha', taskType: 'hello', params: {} },
        allowUnknownType: true,
      }),
      allowed: writers,
    },
    { method: 'schedules.list', params: () => ({}), allowed: viewers },
    { method: 'schedules.get', params: schedule, allowed: readers, denied: hidden },
    { method: 'schedules.pause', params: schedule, allowed: writers, denied: hidden },
    { method: 'schedules.resume', params: schedule, allowed: writers, denied: hidden },
    { method: 'schedules.runNow', params: schedule, allowed: writers, denied: hidden },
    {
      method: 'schedules.update',
      params: () => ({ name: 'alpha-nightly', overlap: 'queue' }),
      allowed: writers,
      denied: hidden,
    },
    {
      method: 'schedules.remove',
      // Each call its own schedule: the one an allowed caller removes is gone for the next.
      params: () => ({ name: `alpha-rm-${removals++}` }),
      allowed: writers,
      denied: hidden,
    },
    {
      method: 'webhooks.add',
      params: () => ({ url: 'http://127.0.0.1:9/other', events: ['job.failed'] }),
      allowed: ['admin'],
    },
    { method: 'webhooks.list', params: () => ({}), allowed: ['admin'] },
    {
      method: 'webhooks.update',
      params: () => ({ id: webhookId, enabled: false }),
      allowed: ['admin'],
    },
    { method: 'webhooks.test', params: () => ({ id: webhookId }), allowed: ['admin'] },
    { method: 'webhooks.deliveries', params: () => ({ id: webhookId }), allowed: ['admin'] },
    { method: 'webhooks.remove', params: () => ({ id: webhookId }), allowed: ['admin'] },
    {
      method: 'groups.setRetention',
      params: () => ({ name: 'alpha', retention: 'default' }),
      allowed: ['admin'],
    },
    {
      method: 'retention.prune',
      params: () => ({ olderThanMs: 3650 * 86_400_000, group: 'alpha', dryRun: true }),
      allowed: ['admin'],
    },
  ];

  it('has a row for every client method', () => {
    const covered = new Set(rows.map((row) => row.method));
    assert.deepEqual(
      Object.keys(methods).filter((m) => !covered.has(m)),
      [],
      'every method needs its row in the matrix',
    );
  });

  for (const row of rows) {
    it(`${row.method}${row.label ? ` ${row.label}` : ''}: ${row.allowed.join(', ')}`, async () => {
      // The refused first, so that what the allowed do cannot hide a refusal that changed things.
      const order = [...EVERYONE.filter((w) => !row.allowed.includes(w)), ...row.allowed];
      const before = [await t.engine.getJob(alphaJob.id), await t.engine.getJob(betaJob.id)];
      let refusedSoFar = true;
      for (const who of order) {
        if (refusedSoFar && row.allowed.includes(who)) {
          refusedSoFar = false;
          // Nothing any refused call asked for happened.
          const now = [await t.engine.getJob(alphaJob.id), await t.engine.getJob(betaJob.id)];
          assert.deepEqual(
            now.map((j) => [j.status, j.priority, j.taskCount]),
            before.map((j) => [j.status, j.priority, j.taskCount]),
          );
        }
        const answer = await rpc(who, row.method, row.params());
        const outcome = outcomeOf(answer);
        if (row.allowed.includes(who)) {
          assert.ok(
            !['UNAUTHORIZED', 'FORBIDDEN', 'NOT_FOUND'].includes(outcome),
            `${who} may call ${row.method}, got ${outcome}: ${answer.error?.message ?? ''}`,
          );
        } else {
          const expected = who === 'nobody' ? 'UNAUTHORIZED' : (row.denied?.[who] ?? 'FORBIDDEN');
          assert.equal(
            outcome,
            expected,
            `${who} calling ${row.method}: ${answer.error?.message ?? ''}`,
          );
        }
      }
    });
  }

  it('lists only the groups a member may read', async () => {
    const names = async (who: Who) =>
      ((await rpc(who, 'groups.list', {})).result as { groups: GroupRecord[] }).groups
        .map((g) => g.name)
        .sort();
    assert.deepEqual(await names('reader'), ['alpha']);
    assert.deepEqual(await names('outsider'), ['beta']);
    assert.ok((await names('admin')).includes('alpha') && (await names('admin')).includes('beta'));
  });

  it('serves an artifact to those who may read its group, and to a lease of its job', async () => {
    const get = (authorization?: string) =>
      fetch(`${server.url}/artifacts/${artifactId}`, {
        headers: authorization === undefined ? {} : { authorization },
      });
    assert.equal((await get(`Bearer ${tokens.admin}`)).status, 200);
    assert.equal((await get(`Bearer ${tokens.reader}`)).status, 200);
    assert.equal((await get(`Bearer ${tokens.outsider}`)).status, 404);
    assert.equal((await get(`Bearer ${tokens.worker}`)).status, 403);
    assert.equal((await get()).status, 401);
    assert.equal((await get('Bearer drover_not-a-token-at-all')).status, 401);
    assert.equal((await get(`Bearer ${held.attemptId}.${held.token}`)).status, 200);
    const [other] = (await claimFresh(t.engine, 1, 'beta')) as [Assignment];
    assert.equal((await get(`Bearer ${other.attemptId}.${other.token}`)).status, 404);
  });

  it('answers a socket nothing but signing in until it has', async () => {
    const ws = await open();
    const answers = await exchange(ws, [
      { method: 'jobs.list', params: { group: 'alpha' } },
      { method: 'auth.whoami', params: {} },
      { method: 'tasks.complete', params: { reports: [] } },
      { method: 'auth.login', params: { token: 'drover_wrong-token' } },
      { method: 'auth.login', params: { token: tokens.reader } },
      { method: 'jobs.list', params: { group: 'alpha' } },
      { method: 'jobs.list', params: { group: 'beta' } },
    ]);
    ws.close();
    assert.deepEqual(answers.map(outcomeOf), [
      'UNAUTHORIZED',
      'UNAUTHORIZED',
      'UNAUTHORIZED',
      'UNAUTHORIZED',
      'ok',
      'ok',
      'FORBIDDEN',
    ]);
  });

  it('refuses a socket with a bad bearer token at the upgrade', async () => {
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/ws`, {
      headers: { authorization: 'Bearer drover_not-a-token-at-all' },
    });
    const outcome = await new Promise<string>((resolve) => {
      ws.once('open', () => resolve('open'));
      ws.once('error', (error) => resolve(error.message));
    });
    assert.match(outcome, /401/);
  });

  it('lets a member subscribe to its groups only, replay included', async () => {
    const ws = await open(tokens.reader);
    const answers = await exchange(ws, [
      { method: 'events.subscribe', params: { subscription: 'a', topic: 'jobs/beta' } },
      { method: 'events.subscribe', params: { subscription: 'b', topic: `job/${betaJob.id}` } },
      { method: 'events.subscribe', params: { subscription: 'c', topic: 'refusals' } },
      { method: 'events.subscribe', params: { subscription: 'd', topic: `job/${alphaJob.id}` } },
    ]);
    ws.close();
    assert.deepEqual(answers.map(outcomeOf), ['FORBIDDEN', 'NOT_FOUND', 'FORBIDDEN', 'ok']);
  });

  it('refuses a worker token that is not a worker, or offers what it may not', async () => {
    const limited = await tokenFor(t.engine, {
      name: 'gpu box',
      role: 'worker',
      taskTypes: ['render'],
      tags: ['gpu'],
    });
    const hello = (token: string, taskTypes: string[], tags: string[]) => ({
      method: 'workers.hello',
      params: {
        name: `w-${taskTypes.join('-')}-${tags.join('-')}`,
        host: 'h',
        taskTypes,
        tags,
        slots: 1,
        token,
      },
    });
    const answers: RpcAnswer[] = [];
    for (const call of [
      hello(tokens.reader, ['render'], []),
      hello(limited, ['render', 'hello'], []),
      hello(limited, ['render'], ['gpu', 'site:x']),
      hello('drover_wrong-token', ['render'], []),
      hello(limited, ['render'], ['gpu']),
    ]) {
      const ws = await open();
      answers.push(...(await exchange(ws, [call])));
      ws.close();
    }
    assert.deepEqual(answers.map(outcomeOf), [
      'FORBIDDEN',
      'FORBIDDEN',
      'FORBIDDEN',
      'UNAUTHORIZED',
      'ok',
    ]);
  });

  it("keeps a connected worker's name from a second worker, and from another token", async () => {
    const mine = await tokenFor(t.engine, { name: 'pool a', role: 'worker' });
    const theirs = await tokenFor(t.engine, { name: 'pool b', role: 'worker' });
    const secret = 'the-first-workers-own-secret';
    const hello = (token: string, host: string, instance?: string) => ({
      method: 'workers.hello',
      params: { name: 'named-once', host, taskTypes: ['render'], slots: 1, token, instance },
    });
    const first = await open();
    const [ok] = await exchange(first, [hello(mine, 'good', secret)]);
    assert.equal(outcomeOf(ok ?? {}), 'ok');
    const refusals: string[] = [];
    for (const call of [
      hello(theirs, 'attacker', secret), // another token, even knowing the secret
      hello(mine, 'second'), // a second worker under the same token
      hello(mine, 'second', 'another-workers-secret'),
      hello(tokens.admin, 'ops'),
    ]) {
      const intruder = await open();
      const [answer] = await exchange(intruder, [call]);
      refusals.push(outcomeOf(answer ?? {}));
      intruder.close();
    }
    assert.deepEqual(refusals, ['CONFLICT', 'CONFLICT', 'CONFLICT', 'CONFLICT']);
    const record = (await t.engine.listWorkers()).find((w) => w.name === 'named-once');
    assert.equal(record?.host, 'good', 'the record was not rewritten');
    // The same worker coming back before its old connection is noticed gone takes its place.
    const again = await open();
    const [back] = await exchange(again, [hello(mine, 'good', secret)]);
    assert.equal(outcomeOf(back ?? {}), 'ok');
    for (let i = 0; i < 100 && first.readyState !== first.CLOSED; i++) await sleep(20);
    assert.equal(first.readyState, first.CLOSED, 'the old connection was closed');
    for (const ws of [first, again]) ws.close();
  });

  it('ends the connections of a revoked token: at once here, within seconds on other servers', async () => {
    const doomed = await t.engine.accounts.createToken({
      name: 'doomed',
      role: 'member',
      groups: { alpha: 'read' },
    });
    const here = await open(doomed.secret);
    const closedHere = closed(here);
    const admin = await open(tokens.admin);
    const [revoked] = await exchange(admin, [
      { method: 'tokens.revoke', params: { id: doomed.token.id } },
    ]);
    assert.equal(outcomeOf(revoked ?? {}), 'ok');
    assert.equal((await closedHere).code, 1008);
    admin.close();

    // Revoked in the database by another server: this one notices on its next check.
    const elsewhere = await t.engine.accounts.createToken({ name: 'elsewhere', role: 'admin' });
    const socket = await open(elsewhere.secret);
    const closedLater = closed(socket);
    await t.engine.accounts.revokeToken(elsewhere.token.id);
    const started = Date.now();
    assert.equal((await closedLater).code, 1008);
    assert.ok(Date.now() - started < 15_000);
    assert.equal(outcomeOf(await rpc('nobody', 'auth.whoami', {})), 'UNAUTHORIZED');
  });

  async function open(token?: string): Promise<WebSocket> {
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/ws`, {
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    return ws;
  }

  function closed(ws: WebSocket): Promise<{ code: number }> {
    return new Promise((resolve) => ws.once('close', (code) => resolve({ code })));
  }

  /** Sends each call in turn, waiting for its answer. */
  async function exchange(
    ws: WebSocket,
    calls: { method: string; params: unknown }[],
  ): Promise<RpcAnswer[]> {
    const answers: RpcAnswer[] = [];
    let id = 0;
    for (const call of calls) {
      id += 1;
      const mine = id;
      const answer = new Promise<RpcAnswer>((resolve) => {
        const onMessage = (data: Buffer) => {
          const message = JSON.parse(data.toString('utf8')) as RpcAnswer & { id?: number };
          if (message.id !== mine) return;
          ws.off('message', onMessage);
          resolve(message);
        };
        ws.on('message', onMessage);
      });
      ws.send(JSON.stringify({ jsonrpc: '2.0', ...call, id: mine }));
      answers.push(await answer);
    }
    return answers;
  }
});
