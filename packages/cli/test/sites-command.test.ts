// `drover sites add NAME URL --token-file F`, `sites ls`, `sites rm NAME`: an admin manages the
// farms this one forwards jobs to. --token-file is the site's token there: the command signs in
// with DROVER_TOKEN, and never prints the site's token.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { backend, openTestEngine, tokenFor } from '@drover/engine/testing';
import type { TestEngine } from '@drover/engine/testing';
import { startServer } from '@drover/server';
import type { DroverServer } from '@drover/server';
import { drover } from './run-drover.js';

describe(`drover sites (${backend})`, () => {
  let t: TestEngine;
  let server: DroverServer;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const siteToken = 'drover_the-site-token-for-this-farm';

  before(async () => {
    t = await openTestEngine();
    dir = mkdtempSync(join(tmpdir(), 'drover-sites-command-'));
    writeFileSync(join(dir, 'drover.json'), '{}');
    writeFileSync(join(dir, 'site-token'), `${siteToken}\n`, { mode: 0o600 });
    server = await startServer({ engine: t.engine, port: 0 });
    env = { DROVER_TOKEN: await tokenFor(t.engine), DROVER_SERVER: server.url };
  });
  after(async () => {
    await server.close();
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('adds, lists and removes a site, never printing its token', async () => {
    const added = await drover(
      ['sites', 'add', 'madison', 'http://127.0.0.1:9', '--token-file', 'site-token'],
      { cwd: dir, env },
    );
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /added site madison at http:\/\/127\.0\.0\.1:9/);

    const listed = await drover(['sites', 'ls'], { cwd: dir, env });
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /madison\s+http:\/\/127\.0\.0\.1:9\s+0/);
    const json = await drover(['sites', 'ls', '--json'], { cwd: dir, env });
    assert.equal((JSON.parse(json.stdout) as { name: string }[])[0]?.name, 'madison');
    for (const run of [added, listed, json])
      assert.ok(!`${run.stdout}${run.stderr}`.includes(siteToken), 'the token is never printed');

    const removed = await drover(['sites', 'rm', 'madison'], { cwd: dir, env });
    assert.equal(removed.code, 0, removed.stderr);
    assert.deepEqual(await t.engine.sites.list(), []);
  });

  it('says what is wrong: no token file, an unknown site', async () => {
    const noToken = await drover(['sites', 'add', 'x', 'http://127.0.0.1:9'], { cwd: dir, env });
    assert.equal(noToken.code, 1);
    assert.match(noToken.stderr, /Usage: drover sites add NAME URL --token-file F/);
    const missing = await drover(['sites', 'rm', 'nowhere'], { cwd: dir, env });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /There is no site nowhere\. \[DROVER_E_NOT_FOUND\]/);
  });
});
