// `drover groups limit`, `drover types`, `drover jobs blocklist|unblock` and `drover tasks why`,
// run as a user runs them, against a real server.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { backend, openTestEngine, tokenFor, uniqueType } from '@drover/engine/testing';
import type { TestEngine } from '@drover/engine/testing';
import { startServer } from '@drover/server';
import type { DroverServer } from '@drover/server';
import { drover } from './run-drover.js';

describe(`drover commands for limits, the blocklist and why (${backend})`, () => {
  let t: TestEngine;
  let server: DroverServer;
  let dir: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    t = await openTestEngine();
    dir = mkdtempSync(join(tmpdir(), 'drover-limits-'));
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

  it('sets, lists and lifts a group limit, and refuses a bad one', async () => {
    const group = uniqueType('cli-limit').replaceAll('.', '-');
    const set = await run(
      'groups',
      'limit',
      group,
      '--max-running',
      '4',
      '--rate',
      '2/s',
      '--weight',
      '2',
    );
    assert.equal(set.code, 0, set.stderr);
    assert.equal(set.stdout.trim(), `group ${group}: max 4, 120/m, weight 2`);
    const listed = await run('groups');
    assert.match(listed.stdout, new RegExp(`${group} .* max 4, 120/m, weight 2`));
    const lifted = await run('groups', 'limit', group, '--max-running', 'none', '--rate', 'none');
    assert.equal(lifted.stdout.trim(), `group ${group}: weight 2`);
    const bad = await run('groups', 'limit', group, '--rate', 'fast');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--rate takes task starts per second, minute or hour/);
    const type = uniqueType();
    const typed = await run('types', 'limit', type, '--max-running', '8');
    assert.equal(typed.code, 0, typed.stderr);
    assert.match((await run('types')).stdout, new RegExp(`${type.replaceAll('.', '\\.')} +0 +8`));
  });

  it('says why a task waits, and lists and clears a job’s blocklist', async () => {
    const type = uniqueType();
    const { job } = await t.engine.submit({
      group: 'cli-why',
      taskType: type,
      blocklistAfter: 1,
      maxAttempts: 3,
    });
    const [task] = await t.engine.listTasks(job.id);
    assert.ok(task);
    const why = await run('tasks', 'why', task.id);
    assert.equal(why.code, 0, why.stderr);
    assert.match(
      why.stdout,
      new RegExp(`task ${task.id} \\(queued\\):\\n  No online worker offers its task type`),
    );
    const { worker } = await t.engine.registerWorker({
      name: uniqueType('w'),
      host: 'h',
      taskTypes: [type],
      slots: 1,
    });
    const [a] = await t.engine.claim({
      workerId: worker.id,
      taskTypes: [type],
      tags: [],
      limit: 1,
    });
    assert.ok(a);
    await t.engine.fail([{ ...a, error: { message: 'broken' } }]);
    const listed = await run('jobs', 'blocklist', job.id);
    assert.match(listed.stdout, new RegExp(`${worker.name} +${worker.id} +1 +since`));
    const unblocked = await run('jobs', 'unblock', job.id, worker.id);
    assert.match(unblocked.stdout, /1 worker may run its tasks again/);
    assert.match((await run('jobs', 'blocklist', job.id)).stdout, /no worker failed its tasks/);
  });
});
