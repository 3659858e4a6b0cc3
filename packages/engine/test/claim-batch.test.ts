import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backend, openTestEngine, uniqueType } from './harness.js';
import { explainClaimChoice, planNodes, queueRowsRead } from './plans.js';
import type { TestEngine } from './harness.js';

describe(`one claim for many workers (${backend})`, () => {
  let t: TestEngine;
  before(async () => {
    t = await openTestEngine();
  });
  after(async () => {
    await t.close();
  });

  async function worker(taskTypes: string[], tags: string[] = []) {
    const name = uniqueType('worker');
    return (await t.engine.registerWorker({ name, host: 'h', taskTypes, tags, slots: 8 })).worker;
  }

  async function submit(taskType: string, count: number, tags: string[] = []) {
    return t.engine.submit({
      group: 'g',
      taskType,
      tags,
      items: Array.from({ length: count }, (_, i) => ({ i })),
    });
  }

  it('fills the slots of each group in their order, each task once', async () => {
    const cpu = uniqueType('cpu');
    const gpu = uniqueType('gpu');
    await submit(cpu, 5);
    await submit(gpu, 3, ['gpu']);
    const [a, b, c] = [await worker([cpu]), await worker([cpu]), await worker([cpu, gpu], ['gpu'])];
    const claimed = await t.engine.claimBatch({
      groups: [
        { taskTypes: [cpu], tags: [], slots: [a.id, b.id, a.id, b.id] },
        { taskTypes: [gpu, cpu], tags: ['gpu'], slots: [c.id, c.id] },
      ],
    });
    const byWorker = (id: string) => claimed.filter((x) => x.task.workerId === id);
    assert.equal(byWorker(a.id).length, 2);
    assert.equal(byWorker(b.id).length, 2);
    assert.equal(byWorker(c.id).length, 2);
    const ids = claimed.map((x) => x.task.id);
    assert.equal(new Set(ids).size, ids.length, 'no task is handed out twice');
    // The first cpu task (by submission) went to the first slot, a's.
    const cpuTasks = claimed.filter((x) => x.task.taskType === cpu);
    const first = cpuTasks.reduce((m, x) => (BigInt(x.task.id) < BigInt(m.task.id) ? x : m));
    assert.equal(first.task.workerId, a.id);
    for (const x of claimed) {
      assert.equal(x.task.status, 'leased');
      const attempts = await t.engine.listAttempts(x.task.id);
      assert.equal(attempts.length, 1);
      assert.equal(attempts[0]?.workerId, x.task.workerId, 'the attempt is the worker’s');
    }
  });

  it('gives a task two groups could run to one of them only', async () => {
    const type = uniqueType();
    await submit(type, 3);
    const [a, b] = [await worker([type]), await worker([type], ['extra'])];
    const claimed = await t.engine.claimBatch({
      groups: [
        { taskTypes: [type], tags: [], slots: [a.id, a.id, a.id] },
        { taskTypes: [type], tags: ['extra'], slots: [b.id, b.id, b.id] },
      ],
    });
    const ids = claimed.map((x) => x.task.id);
    assert.equal(new Set(ids).size, 3);
    assert.equal(ids.length, 3, 'three tasks, three assignments: none twice');
  });

  it('offers nothing to a worker that is not online', async () => {
    const type = uniqueType();
    await submit(type, 4);
    const [on, off] = [await worker([type]), await worker([type])];
    await t.engine.holdWorker(off.id, 'disabled');
    const claimed = await t.engine.claimBatch({
      groups: [{ taskTypes: [type], tags: [], slots: [off.id, on.id, off.id, on.id] }],
    });
    assert.equal(claimed.length, 2);
    assert.ok(claimed.every((x) => x.task.workerId === on.id));
  });

  it('walks the queue index after ANALYZE of a deep queue, reading about as many rows as slots', async () => {
    const type = uniqueType('deep');
    await submit(type, 20_000);
    const w = await worker([type]);
    await t.engine.database.exec('ANALYZE');
    for (const slots of [1, 50, 1000]) {
      const plan = await explainClaimChoice(t.engine, [
        { taskTypes: [type], tags: [], slots: Array(slots).fill(w.id) },
      ]);
      const scans = planNodes(JSON.parse(plan)).filter((n) => n['Relation Name'] === 'tasks');
      const queue = scans.find((n) => n['Index Name'] === 'tasks_queue');
      assert.ok(queue, `slots=${slots}: the claim walks tasks_queue; plan: ${plan.slice(0, 2000)}`);
      assert.ok(
        !scans.some((n) => n['Node Type'] === 'Seq Scan' || n['Node Type'] === 'Bitmap Heap Scan'),
        `slots=${slots}: no scan of the whole table`,
      );
      // The walk of the one waiting group, and the two descents that find it is the only one.
      const read = queueRowsRead(plan);
      assert.ok(read <= slots + 2, `slots=${slots}: read ${read} queued rows`);
    }
  });
});
