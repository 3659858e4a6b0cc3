import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backend, openTestEngine, sleep, uniqueType } from './harness.js';
import type { TestEngine } from './harness.js';
import { explainClaimChoice, queueRowsRead } from './plans.js';

describe(`fair sharing and limits (${backend})`, () => {
  let t: TestEngine;
  before(async () => {
    t = await openTestEngine();
  });
  after(async () => {
    await t.close();
  });

  async function worker(type: string, slots = 100) {
    const name = uniqueType('w');
    return (await t.engine.registerWorker({ name, host: 'h', taskTypes: [type], slots })).worker;
  }

  async function submit(group: string, type: string, count: number, priority = 0) {
    return (
      await t.engine.submit({
        group,
        taskType: type,
        priority,
        items: Array.from({ length: count }, (_, i) => ({ i })),
      })
    ).job;
  }

  const groupOf = async (taskId: string) =>
    (await t.engine.getJob((await t.engine.getTask(taskId)).jobId)).group;

  it("gives a group with one task a slot before another group's deep queue submitted earlier", async () => {
    const type = uniqueType('fair');
    const [a, b] = [uniqueType('ga'), uniqueType('gb')];
    await submit(a, type, 10_000);
    await submit(b, type, 1);
    const w = await worker(type);
    const first = await t.engine.claim({ workerId: w.id, taskTypes: [type], tags: [], limit: 1 });
    const second = await t.engine.claim({ workerId: w.id, taskTypes: [type], tags: [], limit: 1 });
    const groups = await Promise.all([...first, ...second].map((x) => groupOf(x.task.id)));
    assert.ok(
      groups.includes(b),
      `B's one task was claimed in the first two passes: ${groups.join(', ')}`,
    );
    // In one pass of two slots, each group gets one.
    const type2 = uniqueType('fair');
    await submit(a, type2, 1000);
    await submit(b, type2, 1);
    const w2 = await worker(type2);
    const both = await t.engine.claim({ workerId: w2.id, taskTypes: [type2], tags: [], limit: 2 });
    assert.deepEqual(
      (await Promise.all(both.map((x) => groupOf(x.task.id)))).sort(),
      [a, b].sort(),
    );
  });

  it('shares slots by weight, 2:1 over a run, and orders by priority within a group', async () => {
    const type = uniqueType('weighted');
    const [heavy, light] = [uniqueType('heavy'), uniqueType('light')];
    await t.engine.setGroupLimits({ group: heavy, weight: 2 });
    await submit(heavy, type, 300);
    const urgent = await submit(light, type, 5, 10);
    await submit(light, type, 300);
    const w = await worker(type, 300);
    const counts = new Map<string, number>();
    const byJob: string[] = [];
    for (let pass = 0; pass < 10; pass++) {
      const got = await t.engine.claim({ workerId: w.id, taskTypes: [type], tags: [], limit: 6 });
      for (const x of got) {
        const g = await groupOf(x.task.id);
        counts.set(g, (counts.get(g) ?? 0) + 1);
        if (g === light) byJob.push(x.task.jobId);
      }
    }
    assert.equal(counts.get(heavy), 40, `heavy: ${counts.get(heavy)}, light: ${counts.get(light)}`);
    assert.equal(counts.get(light), 20);
    assert.deepEqual(
      byJob.slice(0, 5),
      Array(5).fill(urgent.id),
      "the light group's priority job first",
    );
  });

  it('never has more tasks of a limited group or type leased or running than its limit', async () => {
    const type = uniqueType('limited');
    const group = uniqueType('lg');
    const limits = await t.engine.setGroupLimits({ group, maxRunning: 3 });
    assert.deepEqual(limits, { group, maxRunning: 3, ratePerMinute: null, weight: 1 });
    await submit(group, type, 10);
    const w = await worker(type);
    const claim = (limit: number) =>
      t.engine.claim({ workerId: w.id, taskTypes: [type], tags: [], limit });
    const first = await claim(10);
    assert.equal(first.length, 3);
    assert.deepEqual(await claim(10), [], 'the limit is reached');
    await t.engine.complete([{ ...first[0]!, result: {} }]);
    assert.equal((await claim(10)).length, 1, 'one ended, one more may start');
    // A type limit holds across groups.
    const type2 = uniqueType('typed');
    await t.engine.setTaskTypeLimits({ taskType: type2, maxRunning: 2 });
    await submit(uniqueType('g1'), type2, 5);
    await submit(uniqueType('g2'), type2, 5);
    const w2 = await worker(type2);
    const got = await t.engine.claim({ workerId: w2.id, taskTypes: [type2], tags: [], limit: 10 });
    assert.equal(got.length, 2);
    const listed = (await t.engine.listTaskTypes()).find((x) => x.name === type2);
    assert.equal(listed?.maxRunning, 2);
    // Lifted, the rest may start.
    await t.engine.setTaskTypeLimits({ taskType: type2, maxRunning: null });
    assert.equal(
      (await t.engine.claim({ workerId: w2.id, taskTypes: [type2], tags: [], limit: 10 })).length,
      8,
    );
    const listedGroup = (await t.engine.listGroups()).find((g) => g.name === group);
    assert.deepEqual(listedGroup?.limits, { maxRunning: 3, ratePerMinute: null, weight: 1 });
  });

  it('starts at most the rate of a rate-limited group', async () => {
    const type = uniqueType('rated');
    const group = uniqueType('rg');
    // 120 a minute: two a second, at most two at once.
    await t.engine.setGroupLimits({ group, ratePerMinute: 120 });
    await submit(group, type, 50);
    const w = await worker(type);
    const claim = () => t.engine.claim({ workerId: w.id, taskTypes: [type], tags: [], limit: 50 });
    const started = Date.now();
    let got = (await claim()).length;
    assert.equal(got, 2, 'a full bucket: a second of starts');
    assert.equal((await claim()).length, 0, 'then none until it refills');
    while (Date.now() - started < 2500) {
      got += (await claim()).length;
      await sleep(100);
    }
    const seconds = (Date.now() - started) / 1000;
    assert.ok(got <= 2 + Math.ceil(seconds * 2), `${got} started in ${seconds} s at 2 a second`);
    assert.ok(got >= 4, `${got} started in ${seconds} s: the bucket refills`);
  });

  it("reads a slots' worth of a paused group's queue, not all of it, while another group waits", async () => {
    const type = uniqueType('paused');
    const [paused, active] = [uniqueType('pg'), uniqueType('ag')];
    await submit(paused, type, 2000);
    await t.engine.pauseGroup(paused);
    await submit(active, type, 50);
    const w = await worker(type);
    await t.engine.database.exec('ANALYZE');
    const slots = 10;
    const plan = await explainClaimChoice(t.engine, [
      { taskTypes: [type], tags: [], slots: Array(slots).fill(w.id) },
    ]);
    const read = queueRowsRead(plan);
    assert.ok(read <= 2 * slots + 3, `read ${read} queued rows for ${slots} slots`);
    const got = await t.engine.claim({ workerId: w.id, taskTypes: [type], tags: [], limit: slots });
    assert.equal(got.length, slots);
    for (const a of got) assert.equal(await groupOf(a.task.id), active);
  });

  it('refuses a limit out of range, changing nothing', async () => {
    const group = uniqueType('bad');
    await assert.rejects(t.engine.setGroupLimits({ group, maxRunning: -1 }), {
      code: 'DROVER_E_INVALID_PARAMS',
    });
    await assert.rejects(t.engine.setGroupLimits({ group }), { code: 'DROVER_E_INVALID_PARAMS' });
    await assert.rejects(t.engine.setGroupLimits({ group, weight: 0 }), {
      code: 'DROVER_E_INVALID_PARAMS',
    });
    assert.equal(
      (await t.engine.listGroups()).find((g) => g.name === group),
      undefined,
    );
  });
});
