import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isDroverError } from '@drover/protocol';
import { ShellStartError, ShellTaskTemplate, runShellTask } from '../src/shell/index.js';
import type { OutputStream, ShellTaskTemplateInput } from '../src/shell/index.js';

const NODE = process.execPath;

/** Template text is literal once its braces are doubled. */
const literal = (code: string) => code.replaceAll('{', '{{').replaceAll('}', '}}');

function template(input: Partial<ShellTaskTemplateInput> & { argv: string[] }) {
  return ShellTaskTemplate.parse({ name: 'test.shell', ...input });
}

/** A template running a node script, with `{...}` placeholders appended as its arguments. */
function node(code: string, rest: Partial<ShellTaskTemplateInput> & { args?: string[] } = {}) {
  const { args = [], ...more } = rest;
  return template({ argv: [NODE, '-e', literal(code), ...args], ...more });
}

describe('runShellTask', () => {
  let root: string;
  let n = 0;
  const freshDir = () => join(root, `out-${++n}`);
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'drover-shell-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  async function collect(t: ShellTaskTemplate, params: unknown) {
    const lines: Record<OutputStream, string[]> = { stdout: [], stderr: [] };
    const result = await runShellTask(t, params, {
      outDir: freshDir(),
      onLine: (stream, line) => lines[stream].push(line),
    });
    return { result, ...lines };
  }

  const NASTY = `a; rm -rf / && echo $(whoami) | cat > x; \`id\` "'*? {} $HOME \\ \n\t* ~`;
  const printArgv = 'process.stdout.write(JSON.stringify(process.argv.slice(1)))';

  it('passes params with shell metacharacters to the program literally', async () => {
    const t = template({
      argv: [NODE, '-e', printArgv, '{text}'],
      params: { text: { type: 'string' } },
    });
    const { result, stdout } = await collect(t, { text: NASTY });
    assert.equal(result.exitCode, 0);
    // The param holds a newline, so the single line of JSON output has no raw newline in it.
    assert.deepEqual(JSON.parse(stdout.join('\n')), [NASTY]);
  });

  it('passes a param inside an argv element literally', async () => {
    const t = template({
      // `--` so that node does not take --label for one of its own options.
      argv: [NODE, '-e', printArgv, '--', '--label={text}', '{outDir}/x', '--n={n}'],
      params: { text: { type: 'string' }, n: { type: 'integer', default: 7 } },
    });
    const outDir = freshDir();
    let out = '';
    await runShellTask(
      t,
      { text: NASTY },
      {
        outDir,
        onLine: (stream, line) => (out += stream === 'stdout' ? line : ''),
      },
    );
    assert.deepEqual(JSON.parse(out), [`--label=${NASTY}`, `${outDir}/x`, '--n=7']);
  });

  it('rejects invalid params before anything is spawned', async () => {
    // The program would leave a file behind if it ran, in the output directory it would create.
    const t = node("require('fs').writeFileSync(process.argv[1], 'ran')", {
      args: ['{outDir}/ran-{name}-{count}'],
      params: {
        name: { type: 'string', pattern: '[a-z]+' },
        count: { type: 'integer', min: 1, max: 10 },
      },
    });
    const attempts: [unknown, string][] = [
      [{ name: 'abc; touch /tmp/pwned', count: 1 }, 'name'],
      [{ name: 'abc', count: 11 }, 'count'],
      [{ name: 'abc', count: 1, extra: true }, ''],
      [{ count: 1 }, 'name'],
    ];
    for (const [params, path] of attempts) {
      const outDir = freshDir();
      await assert.rejects(runShellTask(t, params, { outDir }), (error: unknown) => {
        assert.ok(isDroverError(error, 'DROVER_E_INVALID_PARAMS'), String(error));
        assert.ok((error.details as { path: string }[]).some((d) => d.path === path));
        return true;
      });
      assert.equal(existsSync(outDir), false, `nothing ran for ${JSON.stringify(params)}`);
    }
    const ok = await runShellTask(t, { name: 'abc', count: 2 }, { outDir: freshDir() });
    assert.deepEqual(
      ok.files.map((f) => f.name),
      ['ran-abc-2'],
    );
  });

  it('streams stdout and stderr as lines in order, with a final line lacking a newline', async () => {
    const t = node(`
      for (let i = 0; i < 500; i++) {
        process.stdout.write('out ' + i + '\\n');
        process.stderr.write('err ' + i + '\\n');
      }
      process.stdout.write('partial ');
      setTimeout(() => {
        process.stdout.write('then the end');
        process.stderr.write('err end');
      }, 50);
    `);
    const { result, stdout, stderr } = await collect(t, {});
    const numbered = (prefix: string) => Array.from({ length: 500 }, (_, i) => `${prefix} ${i}`);
    assert.equal(result.exitCode, 0);
    assert.deepEqual(stdout, [...numbered('out'), 'partial then the end']);
    assert.deepEqual(stderr, [...numbered('err'), 'err end']);
  });

  it('cuts a very long line into 64 KiB pieces', async () => {
    const t = node("process.stdout.write('x'.repeat(150000) + '\\nshort\\n')");
    const { stdout } = await collect(t, {});
    assert.deepEqual(
      stdout.map((line) => line.length),
      [65536, 65536, 150000 - 2 * 65536, 5],
    );
  });

  it('reports a non-zero exit code', async () => {
    const { result } = await collect(node("console.error('failing'); process.exit(3)"), {});
    assert.equal(result.exitCode, 3);
    assert.equal(result.signal, null);
    assert.equal(result.timedOut, false);
    assert.equal(result.cancelled, false);
    assert.ok(result.durationMs >= 0);
  });

  it('lists the regular files left in outDir, in subfolders too, but not symlinks', async () => {
    const t = node(
      `const fs = require('fs');
       const out = process.argv[1];
       fs.writeFileSync(out + '/frame.png', 'png!');
       fs.mkdirSync(out + '/logs/deep', { recursive: true });
       fs.writeFileSync(out + '/logs/deep/render.log', 'a log');
       fs.mkdirSync(out + '/empty');
       fs.symlinkSync('/etc/hostname', out + '/leak');`,
      { args: ['{outDir}'] },
    );
    const outDir = freshDir();
    const result = await runShellTask(t, {}, { outDir });
    assert.equal(result.exitCode, 0);
    assert.deepEqual(result.files, [
      { name: 'frame.png', path: join(outDir, 'frame.png'), size: 4 },
      { name: 'logs/deep/render.log', path: join(outDir, 'logs/deep/render.log'), size: 5 },
    ]);
  });

  it('gives the command a minimal environment and runs it in outDir by default', async () => {
    process.env.DROVER_TEST_SECRET = 'do not leak';
    const t = node(
      'process.stdout.write(JSON.stringify({ cwd: process.cwd(), env: process.env }))',
      { env: { SCENE_ROOT: '/scenes', LANG: 'C.UTF-8' } },
    );
    const outDir = freshDir();
    let out = '';
    await runShellTask(
      t,
      {},
      { outDir, env: { DROVER_TASK_ID: '42' }, onLine: (_, l) => (out += l) },
    );
    const seen = JSON.parse(out) as { cwd: string; env: Record<string, string> };
    assert.equal(await realpath(seen.cwd), await realpath(outDir));
    const expected: Record<string, string> = { SCENE_ROOT: '/scenes', LANG: 'C.UTF-8' };
    expected.DROVER_TASK_ID = '42';
    if (process.env.PATH !== undefined) expected.PATH = process.env.PATH;
    if (process.env.HOME !== undefined) expected.HOME = process.env.HOME;
    assert.deepEqual(seen.env, expected);
  });

  it('runs in the template cwd when there is one', async () => {
    const cwd = await realpath(root);
    const t = node('process.stdout.write(process.cwd())', { cwd });
    const { stdout } = await collect(t, {});
    assert.deepEqual(stdout, [cwd]);
  });

  it('rejects with a clear error, naming the program, when it cannot be started', async () => {
    const missing = template({ argv: ['drover-no-such-program', '--help'] });
    await assert.rejects(runShellTask(missing, {}, { outDir: freshDir() }), (error: unknown) => {
      assert.ok(error instanceof ShellStartError);
      assert.equal(error.program, 'drover-no-such-program');
      assert.match(error.message, /"drover-no-such-program": there is no such program on the PATH/);
      return true;
    });
    const notExecutable = join(root, 'not-executable');
    await writeFile(notExecutable, '#!/bin/sh\n', { mode: 0o644 });
    await assert.rejects(
      runShellTask(template({ argv: [notExecutable] }), {}, { outDir: freshDir() }),
      /permission denied/,
    );
    const noCwd = template({ argv: [NODE], cwd: join(root, 'no-such-dir') });
    await assert.rejects(runShellTask(noCwd, {}, { outDir: freshDir() }), /working directory/);
  });

  it('stops the command and rejects when onLine throws', async () => {
    const t = node("console.log('one'); setTimeout(() => {}, 30000)", { graceMs: 500 });
    const started = performance.now();
    await assert.rejects(
      runShellTask(
        t,
        {},
        {
          outDir: freshDir(),
          onLine: () => {
            throw new Error('log sink broken');
          },
        },
      ),
      /log sink broken/,
    );
    assert.ok(performance.now() - started < 5000);
  });

  it('does not start a command whose signal is already aborted', async () => {
    const outDir = freshDir();
    await mkdir(outDir);
    await symlink('/etc/hostname', join(outDir, 'not-listed'));
    const t = node("require('fs').writeFileSync(process.argv[1], 'ran')", {
      args: ['{outDir}/ran'],
    });
    const result = await runShellTask(t, {}, { outDir, signal: AbortSignal.abort() });
    assert.equal(result.cancelled, true);
    assert.equal(result.exitCode, null);
    assert.deepEqual(result.files, []);
  });
});
