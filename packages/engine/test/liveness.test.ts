import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { backend, openTestEngine, sleep, uniqueType } from './harness.js';
import type { TestEngine } from './harness.js';

describe(`worker sessions, holds and replicas (${backend})`, () => {
  let t: TestEngine;
  before(async () => {
    t = await openTestEngine();
  });
  after(async () => {
    await t.close();
  });

  const hello = (name: string, types: string[], serverId: string | null = null) =>
    t.engine.registerWorker({ name, host: 'h', taskTypes: types, slots: 4 }, serverId);

  it("never lets an older connection's cleanup override a newer hello", async () => {
    const name = uniqueType('w');
    const first = await hello(name, ['a']);
    const second = await hello(name, ['a']);
    assert.ok(BigInt(second.session) > BigInt(first.session), 'each hello opens a newer session');
    // The first connection's close is noticed after the second said hello.
    assert.equal(await t.engine.workerGone(first.worker.id, first.session), undefined);
    assert.equal(
      await t.engine.setWorkerState(first.worker.id, 'unresponsive', first.session),
      undefined,
    );
    assert.equal((await t.engine.getWorker(first.worker.id)).state, 'online');
    const gone = await t.engine.workerGone(second.worker.id, second.session);
    assert.equal(gone?.state, 'offline');
  });

  it("keeps an operator's drain across reconnects, and enabling a worker ends it", async () => {
    const name = uniqueType('w');
    const { worker } = await hello(name, ['a']);
    assert.equal((await t.engine.holdWorker(worker.id, 'draining')).state, 'draining');
    const back = await hello(name, ['a']);
    assert.equal(back.worker.state, 'draining', 'a reconnect does not end the drain');
    const gone = await t.engine.workerGone(worker.id, back.session);
    assert.equal(gone?.state, 'offline');
    assert.equal(
      (await t.engine.holdWorker(worker.id, null)).state,
      'offline',
      'enabling a worker that is not connected does not make it online',
    );
    assert.equal((await hello(name, ['a'])).worker.state, 'online');
  });

  it('lets a hold win over what a connection says of itself', async () => {
    const name = uniqueType('w');
    const { worker, session } = await hello(name, ['a']);
    await t.engine.holdWorker(worker.id, 'disabled');
    assert.equal(
      (await t.engine.setWorkerState(worker.id, 'online', session))?.state,
      'disabled',
      'a disabled worker heard again stays disabled',
    );
    assert.equal((await t.engine.workerGone(worker.id, session))?.state, 'disabled');
    assert.equal((await hello(name, ['a'])).worker.state, 'disabled');
  });

  it("releases a dead replica's workers and requeues their tasks at their place", async () => {
    const type = uniqueType();
    const [dead, alive] = [randomUUID(), randomUUID()];
    await t.engine.registerServer({ id: dead, url: 'http://a', host: 'a', pid: 1 });
    await t.engine.registerServer({ id: alive, url: 'http://b', host: 'b', pid: 2 });
    const first = await t.engine.submit({ group: 'g', taskType: type });
    const stranded = await hello(uniqueType('w'), [type], dead);
    const [held] = await t.engine.claim({
      workerId: stranded.worker.id,
      taskTypes: [type],
      tags: [],
      limit: 1,
    });
    assert.equal(held?.task.jobId, first.job.id);
    const later = await t.engine.submit({ group: 'g', taskType: type });
    // A worker of the dead replica that already moved to the live one is left alone.
    const moved = await hello(uniqueType('w'), [type], dead);
    await hello(moved.worker.name, [type], alive);

    await sleep(50);
    await t.engine.heartbeatServer(alive);
    const swept = await t.engine.sweepServers(alive, 30);
    assert.deepEqual(swept.servers, ['http://a']);
    // (Workers this file registered through no server, unseen since, are released too.)
    assert.ok(swept.workers.includes(stranded.worker.id));
    assert.ok(!swept.workers.includes(moved.worker.id));
    assert.deepEqual(
      swept.attempts.map((a) => a.attemptId),
      [held?.attemptId],
    );
    assert.equal((await t.engine.getWorker(stranded.worker.id)).state, 'offline');
    assert.equal((await t.engine.getWorker(moved.worker.id)).state, 'online');
    assert.equal(await t.engine.heartbeatServer(dead), false, 'the dead replica learns of it');
    assert.deepEqual((await t.engine.sweepServers(alive, 30)).servers, [], 'swept once');

    // The stranded task runs before the one submitted after it.
    const [next] = await t.engine.claim({
      workerId: moved.worker.id,
      taskTypes: [type],
      tags: [],
      limit: 1,
    });
    assert.equal(next?.task.jobId, first.job.id);
    assert.equal(next?.task.attempt, 2);
    assert.notEqual(next?.task.jobId, later.job.id);
    await t.engine.unregisterServer(alive);
  });

  it('puts a task whose lease lapsed back at its place, not behind the queue', async () => {
    const type = uniqueType();
    const first = await t.engine.submit({
      group: 'g',
      taskType: type,
      maxAttempts: 3,
      backoff: { initialMs: 60_000, maxMs: 60_000 },
    });
    const { worker } = await hello(uniqueType('w'), [type]);
    const [held] = await t.engine.claim({
      workerId: worker.id,
      taskTypes: [type],
      tags: [],
      limit: 1,
      leaseMs: 100,
    });
    assert.equal(held?.task.jobId, first.job.id);
    await t.engine.submit({ group: 'g', taskType: type });
    await sleep(200);
    const reaped = await t.engine.reapExpired();
    assert.deepEqual(
      reaped.map((r) => [r.attemptId, r.status]),
      [[held?.attemptId, 'lost']],
    );
    const [next] = await t.engine.claim({
      workerId: worker.id,
      taskTypes: [type],
      tags: [],
      limit: 1,
    });
    assert.equal(next?.task.jobId, first.job.id, 'no back-off: the worker failed, not the task');
  });
});
