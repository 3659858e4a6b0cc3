// `drover prune` and `drover groups retention`, run as a user runs them, against a real server.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { GroupRecord, PruneReport } from '@drover/protocol';
import { backend, claimFresh, openTestEngine, tokenFor } from '@drover/engine/testing';
import type { TestEngine } from '@drover/engine/testing';
import { startServer } from '@drover/server';
import type { DroverServer } from '@drover/server';
import { drover } from './run-drover.js';

describe(`drover prune and drover groups retention (${backend})`, () => {
  let t: TestEngine;
  let server: DroverServer;
  let dir: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    t = await openTestEngine();
    dir = mkdtempSync(join(tmpdir(), 'drover-prune-'));
    writeFileSync(join(dir, 'drover.json'), '{}');
    env = { DROVER_TOKEN: await tokenFor(t.engine), DROVER_DATA_DIR: join(dir, 'data') };
    // No scheduled pass: what goes here goes because a command said so.
    server = await startServer({ engine: t.engine, port: 0, retention: { intervalMs: 0 } });
  });
  after(async () => {
    await server.close();
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const run = (...args: string[]) => drover([...args, '--server', server.url], { env, cwd: dir });
  const exists = (jobId: string) =>
    t.engine.getJob(jobId).then(
      () => true,
      () => false,
    );

  /** A finished job of `tasks` tasks in `group` that ended `hours` ago. */
  async function finished(group: string, hours: number, tasks = 1): Promise<string> {
    const held = await claimFresh(t.engine, tasks, group);
    await t.engine.complete(held.map((a) => ({ ...a, result: null })));
    const jobId = held[0]?.task.jobId ?? '';
    await t.engine.database.query(
      `UPDATE jobs SET finished_at = now() - $2 * interval '1 hour' WHERE id = $1`,
      [jobId, hours],
    );
    return jobId;
  }

  it('prunes the finished jobs older than asked, after a dry run that deletes nothing', async () => {
    const group = `cli-prune-${process.pid}`;
    const old = await finished(group, 48, 3);
    const young = await finished(group, 2);
    const elsewhere = await finished(`${group}-other`, 48);

    const dry = await run('prune', '--older-than', '1d', '--group', group, '--dry-run');
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^would remove 1 job finished in group \S+ more than 1d ago: 3 tasks/);
    assert.match(dry.stdout, /nothing was deleted/);
    assert.ok(await exists(old), 'a dry run deletes nothing');

    const done = await run('prune', '--older-than', '1d', '--group', group, '--json');
    assert.equal(done.code, 0, done.stderr);
    const report = JSON.parse(done.stdout) as PruneReport;
    assert.deepEqual([report.jobs, report.tasks, report.dryRun], [1, 3, false]);
    assert.equal(await exists(old), false);
    assert.ok(await exists(young), 'a job younger than --older-than stays');
    assert.ok(await exists(elsewhere), 'another group stays');

    const again = await run('prune', '--older-than', '36h', '--group', group);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^removed 0 jobs/);
  });

  it('refuses a duration it cannot read, deleting nothing', async () => {
    const group = `cli-bad-${process.pid}`;
    const old = await finished(group, 48);
    for (const bad of ['7', '1.5d', '7 d', '1w', '-1d', '1d12h', 'd', '']) {
      const refused = await run('prune', `--older-than=${bad}`, '--group', group);
      assert.equal(refused.code, 1, `--older-than ${JSON.stringify(bad)}: ${refused.stdout}`);
      assert.match(
        refused.stderr,
        bad === ''
          ? /usage: drover prune --older-than 7d/
          : /--older-than is a whole number and a unit, such as 7d, 12h, 30m or 90s/,
      );
    }
    const missing = await run('prune', '--group', group);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /usage: drover prune --older-than 7d \[--group G\] \[--dry-run\]/);
    assert.ok(await exists(old), 'nothing was deleted');
  });

  it("sets a group's retention, shows it in drover groups, and puts it back to the farm's", async () => {
    const group = `cli-keep-${process.pid}`;
    await finished(group, 1);
    const set = await run('groups', 'retention', group, '7d');
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /keeps its finished jobs 7d after they end/);
    const listed = await run('groups');
    assert.match(listed.stdout, /KEEPS FINISHED/);
    assert.match(listed.stdout, new RegExp(`${group} .* 7d\\n`));
    const off = await run('groups', 'retention', group, 'off', '--json');
    assert.equal((JSON.parse(off.stdout) as GroupRecord).retention, 'off');
    const back = await run('groups', 'retention', group, 'default');
    assert.match(back.stdout, /as long as the farm does/);
    assert.equal((await t.engine.getGroup(group)).retention, 'default');
    const bad = await run('groups', 'retention', group, '7days');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /a group's retention is a whole number and a unit/);
    assert.equal((await t.engine.getGroup(group)).retention, 'default');
  });
});
