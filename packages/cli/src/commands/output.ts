import { JobId, TaskId } from '@drover/protocol';

/** How a command prints: a table for people on a terminal, JSON for scripts. */
export interface Output {
  json: boolean;
}

export function print(output: Output, value: unknown, text: () => string): void {
  console.log(output.json ? JSON.stringify(value, null, 2) : text());
}

export function required(value: string | undefined, usage: string): string {
  if (!value) throw new Error(`usage: ${usage}`);
  return value;
}

/**
 * A job's or task's id from the command line, checked here so that a mistyped one is named in
 * the command's words rather than as a call's invalid params.
 */
export function idOf(kind: 'job' | 'task', value: string | undefined, usage: string): string {
  const id = required(value, usage);
  const schema = kind === 'job' ? JobId : TaskId;
  if (!schema.safeParse(id).success) {
    throw new Error(
      kind === 'job'
        ? `"${id}" is not a job id: job ids look like 3f1c2d4e-8b9a-4c5d-9e6f-0a1b2c3d4e5f (\`drover jobs ls\` lists them)`
        : `"${id}" is not a task id: task ids are numbers, such as 1234 (\`drover tasks <job id>\` lists a job's)`,
    );
  }
  return id;
}
