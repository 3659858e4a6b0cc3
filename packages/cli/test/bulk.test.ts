// Acting on every worker or job a filter selects, and removing jobs, as a user types it: the
// drover process against a real server.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { JobRecord } from '@drover/protocol';
import { backend, openTestEngine, tokenFor, uniqueType } from '@drover/engine/testing';
import type { TestEngine } from '@drover/engine/testing';
import { startServer } from '@drover/server';
import type { DroverServer } from '@drover/server';
import { drover } from './run-drover.js';

describe(`drover's bulk actions and jobs rm (${backend})`, () => {
  let t: TestEngine;
  let server: DroverServer;
  let dir: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    t = await openTestEngine();
    dir = mkdtempSync(join(tmpdir(), 'drover-bulk-'));
    writeFileSync(join(dir, 'drover.json'), '{}');
    env = { DROVER_TOKEN: await tokenFor(t.engine), DROVER_DATA_DIR: join(dir, 'data') };
    server = await startServer({ engine: t.engine, port: 0 });
  });
  after(async () => {
    await server.close();
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const run = (...args: string[]) => drover([...args, '--server', server.url], { env, cwd: dir });

  it('disables every worker with a tag, and enables them again by tag and state', async () => {
    const gpu = uniqueType('gpu');
    const register = async (tags: string[]) =>
      (
        await t.engine.registerWorker(
          { name: uniqueType('node'), host: 'h', tags, taskTypes: ['hello'], slots: 1 },
          // Connected through a server: enabling one makes it online again.
          server.hub.serverId,
        )
      ).worker;
    const a = await register([gpu]);
    const b = await register([gpu, 'linux']);
    const c = await register(['linux']);

    const disabled = await run('workers', 'disable', '--tag', gpu);
    assert.equal(disabled.code, 0, disabled.stderr);
    assert.deepEqual(
      disabled.stdout.trim().split('\n').sort(),
      [`worker ${a.name}: disabled`, `worker ${b.name}: disabled`].sort(),
    );
    assert.equal((await t.engine.getWorker(c.id)).state, 'online');

    const both = await run('workers', 'enable', '--tag', gpu, '--tag', 'linux', '--json');
    assert.equal(both.code, 0, both.stderr);
    const result = JSON.parse(both.stdout) as { workers: { id: string }[]; matched: number };
    assert.deepEqual(
      result.workers.map((w) => w.id),
      [b.id],
      'a tag given twice: workers with both',
    );
    const rest = await run('workers', 'enable', '--tag', gpu, '--state', 'disabled');
    assert.equal(rest.stdout.trim(), `worker ${a.name}: online`);

    const named = await run('workers', 'drain', a.name);
    assert.equal(named.stdout.trim(), `worker ${a.name}: draining`);
    const again = await run('workers', 'drain', a.name);
    assert.match(again.stdout, /1 matching worker was left as it was/);

    for (const args of [
      ['workers', 'disable'],
      ['workers', 'disable', '--state', 'sleepy'],
    ]) {
      const refused = await run(...args);
      assert.equal(refused.code, 1, args.join(' '));
      assert.match(refused.stderr, /usage: drover workers disable|--state takes online/);
    }
    for (const w of [b, c]) assert.equal((await t.engine.getWorker(w.id)).state, 'online');
  });

  it('cancels the queued jobs of a group, removes the cancelled, and refuses to remove a running one', async () => {
    const group = uniqueType('cli-bulk').replaceAll('.', '-');
    const type = uniqueType();
    const submit = async (name: string) =>
      (await t.engine.submit({ group, name, taskType: type })).job;
    const busy = await submit('busy');
    const { worker } = await t.engine.registerWorker({
      name: uniqueType('w'),
      host: 'h',
      taskTypes: [type],
      slots: 1,
    });
    await t.engine.claim({ workerId: worker.id, taskTypes: [type], tags: [], limit: 1 });
    const waiting = [await submit('waiting 1'), await submit('waiting 2')];

    const cancelled = await run('jobs', 'cancel', '--group', group, '--status', 'queued');
    assert.equal(cancelled.code, 0, cancelled.stderr);
    assert.match(cancelled.stdout, new RegExp(`^2 jobs of group "${group}" cancelled$`, 'm'));
    const status = async (j: JobRecord) => (await t.engine.getJob(j.id)).status;
    assert.deepEqual(await Promise.all([busy, ...waiting].map(status)), [
      'running',
      'cancelled',
      'cancelled',
    ]);

    const early = await run('jobs', 'rm', busy.id);
    assert.equal(early.code, 1);
    assert.match(early.stderr, /is running: only a finished job can be removed\. Cancel it first/);

    const removed = await run('jobs', 'rm', '--group', group, '--status', 'cancelled', '--json');
    assert.equal(removed.code, 0, removed.stderr);
    const { jobs } = JSON.parse(removed.stdout) as { jobs: JobRecord[] };
    assert.deepEqual(
      jobs.map((j) => j.id),
      waiting.map((j) => j.id),
    );
    assert.deepEqual(
      (await t.engine.listJobs({ group })).map((j) => j.id),
      [busy.id],
    );

    const everything = await run('jobs', 'rm', '--group', group);
    assert.equal(everything.code, 1, 'no id and no filter');
    assert.match(everything.stderr, /usage: drover jobs rm <job id> \.\.\. \| --status S/);
    const wrong = await run('jobs', 'cancel', '--group', group, '--status', 'stuck');
    assert.match(
      wrong.stderr,
      /--status takes queued, running, succeeded, failed, cancelled; got "stuck"/,
    );
    assert.equal(await status(busy), 'running');
  });
});
