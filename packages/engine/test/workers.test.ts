import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DroverError, WorkerRecord } from '@drover/protocol';
import { backend, openTestEngine, sleep, uniqueType } from './harness.js';
import type { TestEngine } from './harness.js';

describe(`workers (${backend})`, () => {
  let t: TestEngine;
  before(async () => {
    t = await openTestEngine();
  });
  after(async () => {
    await t.close();
  });

  it('registers many workers in one call, each record in its input’s place', async () => {
    const [a, b, c] = [uniqueType('fleet'), uniqueType('fleet'), uniqueType('fleet')];
    const [existing] = await t.engine.registerWorkers([
      { name: b, host: 'h', taskTypes: ['x'], slots: 1 },
    ]);
    assert.ok(existing);
    const registered = await t.engine.registerWorkers([
      { name: a, host: 'h1', taskTypes: ['x'], tags: ['gpu'], slots: 2 },
      { name: b, host: 'h2', taskTypes: ['x', 'y'], slots: 3 },
      { name: c, host: 'h3', taskTypes: ['y'], slots: 4 },
    ]);
    assert.deepEqual(
      registered.map((r) => [r.worker.name, r.worker.host, r.worker.slots, r.created]),
      [
        [a, 'h1', 2, true],
        [b, 'h2', 3, false],
        [c, 'h3', 4, true],
      ],
    );
    assert.equal(registered[1]?.worker.id, existing.worker.id, 'the same name is the same worker');
    await assert.rejects(
      t.engine.registerWorkers([
        { name: a, host: 'h', taskTypes: ['x'], slots: 1 },
        { name: a, host: 'h', taskTypes: ['x'], slots: 1 },
      ]),
      TypeError,
    );
  });

  it('keeps the identity of a worker that registers again under the same name', async () => {
    const name = uniqueType('render-node');
    const first = await t.engine.registerWorker({
      name,
      host: 'box-1',
      taskTypes: ['a'],
      tags: ['gpu'],
      slots: 2,
    });
    assert.equal(first.created, true);
    WorkerRecord.parse(first.worker);
    await t.engine.workerGone(first.worker.id, first.session);
    const again = await t.engine.registerWorker({
      name,
      host: 'box-2',
      taskTypes: ['a', 'b'],
      slots: 4,
    });
    assert.equal(again.created, false);
    assert.equal(again.worker.id, first.worker.id);
    assert.equal(again.worker.state, 'online', 'a returning worker is online again');
    assert.deepEqual(
      [again.worker.host, again.worker.slots, again.worker.taskTypes],
      ['box-2', 4, ['a', 'b']],
    );
    assert.equal(again.worker.createdAt, first.worker.createdAt);
  });

  it('keeps an operator\'s "disabled" across a reconnect', async () => {
    const name = uniqueType('w');
    const { worker } = await t.engine.registerWorker({
      name,
      host: 'h',
      taskTypes: ['a'],
      slots: 1,
    });
    await t.engine.holdWorker(worker.id, 'disabled');
    const again = await t.engine.registerWorker({ name, host: 'h', taskTypes: ['a'], slots: 1 });
    assert.equal(again.worker.state, 'disabled');
  });

  it('records heartbeats with host stats', async () => {
    const { worker } = await t.engine.registerWorker({
      name: uniqueType('w'),
      host: 'h',
      taskTypes: ['a'],
      slots: 1,
    });
    await sleep(20);
    await t.engine.touchWorkers([
      {
        workerId: worker.id,
        stats: { cpu: 0.5, memoryUsed: 1e9, memoryTotal: 8e9, load: [0.5, 0.4, 0.3] },
      },
    ]);
    const seen = await t.engine.getWorker(worker.id);
    assert.deepEqual(seen.stats, {
      cpu: 0.5,
      memoryUsed: 1e9,
      memoryTotal: 8e9,
      load: [0.5, 0.4, 0.3],
    });
    assert.ok(Date.parse(seen.lastSeenAt) > Date.parse(worker.lastSeenAt));
    const all = await t.engine.listWorkers();
    assert.ok(all.some((w) => w.id === worker.id));
  });

  it('rejects a bad registration or state and changes nothing', async () => {
    const before = await t.engine.listWorkers();
    for (const bad of [
      { name: 'has space', host: 'h', taskTypes: ['a'], slots: 1 },
      { name: 'ok', host: 'h', taskTypes: ['a'], slots: 0 },
      { name: 'ok', host: '', taskTypes: ['a'], slots: 1 },
    ]) {
      await assert.rejects(
        t.engine.registerWorker(bad),
        (error: unknown) =>
          error instanceof DroverError && error.code === 'DROVER_E_INVALID_PARAMS',
      );
    }
    const { worker } = before[0]
      ? { worker: before[0] }
      : await t.engine.registerWorker({
          name: uniqueType('w'),
          host: 'h',
          taskTypes: ['a'],
          slots: 1,
        });
    await assert.rejects(
      t.engine.holdWorker(worker.id, 'asleep' as never),
      (error: unknown) => error instanceof DroverError && error.code === 'DROVER_E_INVALID_PARAMS',
    );
    const after = await t.engine.listWorkers();
    assert.deepEqual(
      after.filter((w) => before.some((b) => b.id === w.id)),
      before,
    );
  });
});
