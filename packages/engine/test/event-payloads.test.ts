// Every event the engine writes carries the data its kind declares in @drover/protocol's
// EventRecord, so programs that switch on `kind` can trust what `data` is.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EventKind, EventRecord, topics } from '@drover/protocol';
import type { Topic } from '@drover/protocol';
import { backend, openTestEngine, sleep, uniqueType } from './harness.js';
import type { TestEngine } from './harness.js';

describe(`event payloads (${backend})`, () => {
  let t: TestEngine;
  before(async () => {
    t = await openTestEngine();
  });
  after(async () => {
    await t.close();
  });

  it('writes every kind of event with the data its kind declares', async () => {
    const type = uniqueType();
    const group = `payloads-${process.pid}`;
    const { worker } = await t.engine.registerWorker({
      name: uniqueType('w'),
      host: 'h',
      taskTypes: [type],
      slots: 4,
    });
    const { job } = await t.engine.submit({
      group,
      taskType: type,
      items: [{ i: 1 }, { i: 2 }],
      maxAttempts: 1,
      // Its one failure blocks the worker for the job: a job.worker_blocked event.
      blocklistAfter: 1,
    });
    const [first, second] = await t.engine.claim({
      workerId: worker.id,
      taskTypes: [type],
      tags: [],
      limit: 2,
    });
    assert.ok(first && second);
    await t.engine.reportProgress([{ ...first, progress: 0.5, message: 'half way' }]);
    await t.engine.appendLogs([
      { ...first, lines: [{ at: new Date().toISOString(), stream: 'stdout', line: 'hello' }] },
    ]);
    await t.engine.recordArtifact({
      ...first,
      name: 'out.txt',
      contentType: 'text/plain',
      size: 2,
      sha256: 'a'.repeat(64),
    });
    await t.engine.complete([{ ...first, result: { ok: true } }]);
    await t.engine.fail([{ ...second, error: { message: 'broken' }, retry: false }]);
    await t.engine.holdWorker(worker.id, 'disabled');
    // A report on a lease that is no longer current.
    await t.engine.reportProgress([{ ...first, progress: 1 }]);
    const read = async (topic: Topic) => {
      const all: unknown[] = [];
      for (let after = ''; ;) {
        const page = await t.engine.readEvents({ topic, after });
        all.push(...page.events);
        if (page.events.length === 0) return all;
        after = page.cursor;
      }
    };
    // The job's own topics go with the job (retention, for job.removed): read them first.
    const events = [
      ...(await read(topics.job(job.id))),
      ...(await read(topics.taskLog(first.task.id))),
    ];
    await sleep(10);
    assert.equal(await t.engine.applyRetention({ finishedJobsMs: 0, eventsMs: 3_600_000 }), 1);
    events.push(
      ...(await read(topics.groupJobs(group))),
      ...(await read(topics.workers)),
      ...(await read(topics.refusals)),
    );
    const seen = new Set<string>();
    for (const event of events) {
      const parsed = EventRecord.safeParse(event);
      assert.ok(parsed.success, `${JSON.stringify(event)}\n${parsed.error?.message ?? ''}`);
      seen.add(parsed.data.kind);
    }
    assert.deepEqual([...seen].sort(), [...EventKind.options].sort(), 'every kind was seen');
  });
});
