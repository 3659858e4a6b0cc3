import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { shellTask } from '../src/index.js';
import type { TaskContext } from '../src/index.js';
import type { ArtifactRecord } from '@drover/protocol';

function context(
  signal = new AbortController().signal,
): TaskContext & { lines: string[]; stored: [string, string][] } {
  const lines: string[] = [];
  const stored: [string, string][] = [];
  return {
    lines,
    stored,
    progress: () => undefined,
    log: (line) => lines.push(line),
    jobArtifacts: () => Promise.resolve([]),
    artifact: (name, data) => {
      stored.push([name, Buffer.from(data).toString('utf8')]);
      return Promise.resolve({ name } as ArtifactRecord);
    },
    signal,
    attempt: 1,
    taskId: '7',
    jobId: '00000000-0000-4000-8000-000000000000',
  };
}

describe('shell task types', () => {
  const echo = shellTask({
    name: 'demo.echo',
    argv: [
      process.execPath,
      '-e',
      'console.log(process.argv[1]); console.error("to stderr"); require("fs").writeFileSync(process.argv[2] + "/out.txt", "x")',
      '{text}',
      '{outDir}',
    ],
    params: { text: { type: 'string' } },
  });

  it('runs the command with params as argv, logs its output and reports its files', async () => {
    const ctx = context();
    const text = '$(rm -rf /); `id` && echo "hi" | cat';
    const result = await echo.run(ctx, echo.params.parse({ text }));
    assert.deepEqual(ctx.lines, [text, '[stderr] to stderr']);
    assert.deepEqual((result as { files: unknown }).files, [{ name: 'out.txt', size: 1 }]);
    assert.deepEqual(ctx.stored, [['out.txt', 'x']], 'the file it left is stored as an artifact');
    assert.equal((result as { exitCode: number }).exitCode, 0);
  });

  it('rejects params the template does not allow before running anything', () => {
    assert.equal(echo.params.safeParse({ text: 'ok', extra: 1 }).success, false);
    assert.equal(echo.params.safeParse({}).success, false);
  });

  it('fails the task when the command exits non-zero, and when it is stopped', async () => {
    const failing = shellTask({ name: 'demo.fail', argv: ['sh', '-c', 'exit 3'] });
    await assert.rejects(Promise.resolve(failing.run(context(), {})), /exited with 3/);
    const slow = shellTask({ name: 'demo.slow', argv: ['sleep', '30'], graceMs: 200 });
    const controller = new AbortController();
    const started = Date.now();
    const running = Promise.resolve(slow.run(context(controller.signal), {}));
    setTimeout(() => controller.abort(new Error('cancelled')), 200);
    await assert.rejects(running, /stopped/);
    assert.ok(Date.now() - started < 2000);
  });

  it('refuses an invalid template with a clear message', () => {
    assert.throws(() => shellTask({ name: 'bad', argv: ['echo', '{nope}'] }), /nope/);
  });
});
