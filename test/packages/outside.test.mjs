// The packages as a user gets them: a new project outside this repository installs packs/*.tgz
// (`npm run pack`), writes a task module and a submit script in TypeScript, compiles them, runs a
// farm with `drover up` and `drover worker --tasks`, and reads the results back typed. On Node 20
// (this one) and on Node 24 (from the registry, `npx node@24`), where the worker loads the task
// module's TypeScript source as it is. `npm run test:packages`.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT, freePort, until } from '../../apps/dashboard/test/farm.mjs';

const PACKS = join(ROOT, 'packs');
const rootManifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const workerManifest = JSON.parse(readFileSync(join(ROOT, 'packages/worker/package.json'), 'utf8'));

/** What a user writes: one task type with typed params and result. */
const TASKS_TS = `import { defineTask } from '@drover/worker';
import { z } from 'zod';

export const countWords = defineTask({
  name: 'words.count',
  params: z.object({ text: z.string(), minLength: z.int().min(1).default(1) }),
  result: z.object({ words: z.int(), longest: z.string() }),
  async run(ctx, { text, minLength }) {
    const words = text.split(/\\s+/).filter((w) => w.length >= minLength);
    ctx.log(\`counting \${words.length} words\`);
    ctx.progress(1, 'counted');
    const longest = words.reduce((a, b) => (b.length > a.length ? b : a), '');
    return { words: words.length, longest };
  },
});
`;

/** What a user's program does: submit, wait, read the results as the task type declares them. */
const SUBMIT_TS = `import { DroverClient } from '@drover/client';
import { WebSocket } from 'ws';
import { countWords } from './tasks.js';

const drover = new DroverClient({
  url: process.argv[2] ?? 'http://127.0.0.1:7400',
  token: process.env.DROVER_TOKEN,
  WebSocket: globalThis.WebSocket ?? WebSocket,
  connectTimeoutMs: 10_000,
});
const { job } = await drover.submit(
  countWords,
  { text: '' },
  { group: 'outside', items: [{ text: 'one two three' }, { text: 'a farm of many machines' }] },
);
const done = await drover.waitFor(job.id);
const tasks = await drover.results(countWords, job.id);
// Typed: a number and a string, or a compile error.
const words: number[] = tasks.map((t) => t.result?.words ?? -1);
const longest: string[] = tasks.map((t) => t.result?.longest ?? '');
console.log(JSON.stringify({ status: done.status, words, longest }));
drover.close();
`;

/** The same program with a mistake: TypeScript must refuse it. */
const WRONG_TS = `import { DroverClient } from '@drover/client';
import { countWords } from './tasks.js';

declare const drover: DroverClient;
await drover.submit(countWords, { text: 42 }, { group: 'outside' });
const [first] = await drover.results(countWords, 'job');
const longest: number | undefined = first?.result?.longest;
`;

const TSCONFIG = {
  compilerOptions: {
    target: 'es2022',
    module: 'nodenext',
    moduleResolution: 'nodenext',
    strict: true,
    outDir: 'dist',
    rootDir: 'src',
    skipLibCheck: false,
    types: ['node'],
  },
  include: ['src'],
};

/** Runs a command to its end; returns its output, or throws with what it printed. */
function run(command, args, cwd, env = {}) {
  const result = spawnSync(command, args, {
    cwd,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 240_000,
  });
  if (result.status !== 0)
    throw new Error(
      `${command} ${args.join(' ')} exited ${result.status}:\n${result.stderr}${result.stdout}`,
    );
  return `${result.stdout}${result.stderr}`;
}

/** A long-running process whose output is kept; stopped with SIGINT after the test. */
function start(node, args, cwd) {
  const child = spawn(node, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  return {
    child,
    output: () => output,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

describe('the packages installed in a project of their own', { timeout: 600_000 }, () => {
  const project = mkdtempSync(join(tmpdir(), 'drover-outside-'));
  const running = [];
  let installLog = '';

  before(() => {
    const tarballs = readdirSync(PACKS).filter((f) => f.endsWith('.tgz'));
    assert.ok(tarballs.length >= 4, 'npm run pack has made the tarballs');
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'my-farm', private: true, type: 'module' }, null, 2),
    );
    installLog = run(
      'npm',
      [
        'install',
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
        ...tarballs.map((f) => join(PACKS, f)),
        `zod@${workerManifest.dependencies.zod}`,
        `ws@${workerManifest.dependencies.ws}`,
        `typescript@${rootManifest.devDependencies.typescript}`,
        `@types/node@${rootManifest.devDependencies['@types/node']}`,
      ],
      project,
    );
    mkdirSync(join(project, 'src'));
    writeFileSync(join(project, 'src/tasks.ts'), TASKS_TS);
    writeFileSync(join(project, 'src/submit.ts'), SUBMIT_TS);
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify(TSCONFIG, null, 2));
  });

  after(async () => {
    await Promise.all(running.map((p) => p.stop()));
    rmSync(project, { recursive: true, force: true });
  });

  it('installs without engine warnings, and gives the project a drover command', () => {
    assert.doesNotMatch(installLog, /EBADENGINE|ERESOLVE/);
    const manifest = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8'));
    assert.ok(manifest.dependencies['@drover/cli'], 'the CLI is a dependency of the project');
    assert.match(run('npx', ['drover', '--help'], project), /drover <command>/);
  });

  it('type-checks a program against the task types it submits, and refuses a wrong one', () => {
    run('npx', ['tsc', '-p', '.'], project);
    assert.ok(readFileSync(join(project, 'dist/submit.js'), 'utf8').includes('countWords'));

    writeFileSync(join(project, 'src/wrong.ts'), WRONG_TS);
    const wrong = spawnSync('npx', ['tsc', '-p', '.', '--noEmit'], {
      cwd: project,
      encoding: 'utf8',
    });
    rmSync(join(project, 'src/wrong.ts'));
    assert.notEqual(wrong.status, 0, 'tsc refused the wrong program');
    // The param of the wrong type, and the result field used as the wrong type.
    assert.match(wrong.stdout, /wrong\.ts\(5,.*Type 'number' is not assignable to type 'string'/);
    assert.match(wrong.stdout, /wrong\.ts\(7,.*Type 'string \| undefined' is not assignable/);
  });

  /**
   * A farm of the project's own: `drover up` (no demo, no local workers), a worker with the
   * project's task module, and the submit program; all on `node`.
   */
  async function farmRound(node, taskModule, dataDir) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const drover = join(project, 'node_modules/@drover/cli/dist/src/main.js');
    const farm = start(
      node,
      [
        drover,
        'up',
        '--port',
        `${port}`,
        '--workers',
        '0',
        '--demo',
        'false',
        '--data-dir',
        dataDir,
      ],
      project,
    );
    running.push(farm);
    await until(async () => farm.output().includes('Drover is up'), 60_000, 'drover up');
    const worker = start(
      node,
      [drover, 'worker', '--server', url, '--token-file', join(dataDir, 'worker-token')].concat([
        '--demo',
        'false',
        '--tasks',
        taskModule,
        '--name',
        'outside-1',
      ]),
      project,
    );
    running.push(worker);
    await until(async () => worker.output().includes('joined'), 60_000, 'the worker to join');
    const printed = run(node, ['dist/submit.js', url], project, {
      DROVER_TOKEN: readFileSync(join(project, dataDir, 'admin-token'), 'utf8').trim(),
    });
    await Promise.all([worker.stop(), farm.stop()]);
    assert.equal(farm.child.exitCode, 0, `drover up ended cleanly:\n${farm.output()}`);
    return JSON.parse(printed.trim().split('\n').at(-1));
  }

  it('runs the project task types on a farm on Node 20, results typed end to end', async () => {
    const outcome = await farmRound(process.execPath, 'dist/tasks.js', 'data-20');
    assert.deepEqual(outcome, {
      status: 'succeeded',
      words: [3, 5],
      longest: ['three', 'machines'],
    });
  });

  it('runs on Node 24, whose worker loads the task module TypeScript source', async () => {
    const node24 = execFileSync('npx', ['-y', 'node@24', '-p', 'process.execPath'], {
      encoding: 'utf8',
      timeout: 240_000,
    }).trim();
    assert.match(execFileSync(node24, ['--version'], { encoding: 'utf8' }), /^v24\./);
    const outcome = await farmRound(node24, 'src/tasks.ts', 'data-24');
    assert.deepEqual(outcome, {
      status: 'succeeded',
      words: [3, 5],
      longest: ['three', 'machines'],
    });
  });
});
