// `drover jobs pause|resume|extend|update` and `drover groups pause|resume`, run as a user runs
// them, against a real server.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { GroupRecord, JobRecord } from '@drover/protocol';
import { backend, openTestEngine, tokenFor, uniqueType } from '@drover/engine/testing';
import type { TestEngine } from '@drover/engine/testing';
import { startServer } from '@drover/server';
import type { DroverServer } from '@drover/server';
import { drover } from './run-drover.js';

describe(`drover commands that edit jobs and groups while they run (${backend})`, () => {
  let t: TestEngine;
  let server: DroverServer;
  let dir: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    t = await openTestEngine();
    dir = mkdtempSync(join(tmpdir(), 'drover-edit-'));
    writeFileSync(join(dir, 'drover.json'), '{}');
    env = { DROVER_TOKEN: await tokenFor(t.engine), DROVER_DATA_DIR: join(dir, 'data') };
    server = await startServer({ engine: t.engine, port: 0, pollMs: 500 });
  });
  after(async () => {
    await server.close();
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const run = (...args: string[]) => drover([...args, '--server', server.url], { env, cwd: dir });

  it('pauses and resumes a job', async () => {
    const { job } = await t.engine.submit({
      group: 'cli-edit',
      taskType: uniqueType(),
      items: [{ n: 1 }],
    });
    const paused = await run('jobs', 'pause', job.id);
    assert.equal(paused.code, 0, paused.stderr);
    assert.match(paused.stdout, /paused; tasks already running finish, no other starts/);
    assert.equal((await t.engine.getJob(job.id)).paused, true);
    const listed = await run('jobs', 'ls', '--group', 'cli-edit');
    assert.match(listed.stdout, /queued, paused/);
    const resumed = await run('jobs', 'resume', job.id, '--json');
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal((JSON.parse(resumed.stdout) as JobRecord).paused, false);
    const bad = await run('jobs', 'pause', 'not-a-job');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /"not-a-job" is not a job id/);
  });

  it('extends a job with frames or a file of items, and refuses the wrong shape', async () => {
    const type = uniqueType();
    const { job: frames } = await t.engine.submit({
      group: 'cli-edit',
      taskType: type,
      frames: { start: 1, end: 3 },
    });
    const more = await run('jobs', 'extend', frames.id, '--frames', '4-9:2');
    assert.equal(more.code, 0, more.stderr);
    assert.match(more.stdout, /3 tasks added/);
    assert.deepEqual(
      (await t.engine.listTasks(frames.id)).map((x) => x.params.frame),
      [1, 2, 3, 4, 6, 8],
    );

    const { job: items } = await t.engine.submit({
      group: 'cli-edit',
      taskType: type,
      items: [{ n: 1 }],
    });
    const file = join(dir, 'more.json');
    writeFileSync(file, JSON.stringify({ items: [{ n: 2 }, { n: 3 }] }));
    const added = await run('jobs', 'extend', items.id, '--file', file, '--max-attempts', '5');
    assert.equal(added.code, 0, added.stderr);
    const tasks = await t.engine.listTasks(items.id);
    assert.deepEqual(
      tasks.map((x) => [x.params.n, x.maxAttempts]),
      [
        [1, 3],
        [2, 5],
        [3, 5],
      ],
    );

    const wrong = await run('jobs', 'extend', items.id, '--frames', '1-2');
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /submitted with items: give items, not frames/);
    const malformed = await run('jobs', 'extend', items.id, '--frames', 'ten');
    assert.equal(malformed.code, 1);
    assert.match(malformed.stderr, /--frames takes a range such as 241-480/);
    assert.equal((await t.engine.getJob(items.id)).taskCount, 3, 'nothing more was added');
  });

  it("changes a job's waiting tasks", async () => {
    const { job } = await t.engine.submit({
      group: 'cli-edit',
      taskType: uniqueType(),
      items: [{ n: 1 }, { n: 2 }],
    });
    const updated = await run(
      'jobs',
      'update',
      job.id,
      '--max-attempts',
      '6',
      '--timeout-ms',
      '60000',
      '--priority',
      '4',
    );
    assert.equal(updated.code, 0, updated.stderr);
    assert.match(updated.stdout, /2 waiting tasks changed/);
    assert.deepEqual(
      (await t.engine.listTasks(job.id)).map((x) => [x.maxAttempts, x.timeoutMs, x.priority]),
      [
        [6, 60_000, 4],
        [6, 60_000, 4],
      ],
    );
    const nothing = await run('jobs', 'update', job.id);
    assert.equal(nothing.code, 1);
    assert.match(nothing.stderr, /usage: drover jobs update/);
    const bad = await run('jobs', 'update', job.id, '--priority', 'high');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--priority takes a whole number/);
  });

  it('pauses and resumes a group, and lists it as paused', async () => {
    const group = uniqueType('cli-group').replaceAll('.', '-');
    await t.engine.submit({ group, taskType: uniqueType(), items: [{ n: 1 }] });
    const paused = await run('groups', 'pause', group);
    assert.equal(paused.code, 0, paused.stderr);
    assert.match(paused.stdout, new RegExp(`group ${group}: paused \\(1 job,`));
    const listed = await run('groups');
    assert.match(listed.stdout, new RegExp(`${group} \\(paused\\)`));
    const resumed = await run('groups', 'resume', group, '--json');
    assert.equal(resumed.code, 0, resumed.stderr);
    const answer = JSON.parse(resumed.stdout) as { group: GroupRecord; changed: number };
    assert.deepEqual([answer.group.paused, answer.changed], [false, 1]);
    const wrong = await run('groups', 'stop', group);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /drover groups takes ls, pause, resume or limit/);
  });
});
