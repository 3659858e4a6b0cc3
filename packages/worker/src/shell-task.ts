import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import type { TaskDefinition } from './define-task.js';
import { ShellTaskTemplate, paramsSchema, runShellTask } from './shell/index.js';
import type { ShellTaskTemplateInput } from './shell/index.js';

/** What a shell task reports: how the command ended and the files it left. */
export const ShellTaskOutcome = z.object({
  exitCode: z.int().nullable(),
  durationMs: z.number(),
  files: z.array(z.object({ name: z.string(), size: z.int() })),
});

/**
 * A shell-command template from the worker's configuration as a task type like any other: its
 * params are validated by the template's spec and passed as argv, never through a shell; stdout
 * and stderr become log lines; exit code 0 is success; files left in the output directory become
 * the task's artifacts.
 */
export function shellTask(input: ShellTaskTemplateInput): TaskDefinition {
  const template = ShellTaskTemplate.parse(input);
  return {
    name: template.name,
    params: paramsSchema(template),
    result: ShellTaskOutcome,
    async run(ctx, params) {
      const outDir = mkdtempSync(join(tmpdir(), `drover-${template.name}-`));
      try {
        const result = await runShellTask(template, params, {
          outDir,
          signal: ctx.signal,
          onLine: (stream, line) => ctx.log(stream === 'stderr' ? `[stderr] ${line}` : line),
          env: {
            DROVER_TASK_ID: ctx.taskId,
            DROVER_JOB_ID: ctx.jobId,
            DROVER_ATTEMPT: String(ctx.attempt),
          },
        });
        if (result.cancelled) throw new Error('The command was stopped.');
        if (result.timedOut)
          throw new Error(`The command ran longer than ${template.timeoutMs} ms and was stopped.`);
        if (result.exitCode !== 0) {
          throw new Error(
            `${template.argv[0]} exited with ${result.exitCode ?? `signal ${result.signal}`}.`,
          );
        }
        // What the command left in its output directory becomes the task's artifacts.
        for (const file of result.files) {
          ctx.signal.throwIfAborted();
          await ctx.artifact(file.name, await readFile(file.path));
        }
        return {
          exitCode: result.exitCode,
          durationMs: result.durationMs,
          files: result.files.map((f) => ({ name: f.name, size: f.size })),
        };
      } finally {
        rmSync(outDir, { recursive: true, force: true });
      }
    },
  };
}
