import { readFileSync } from 'node:fs';
import { DroverError } from '@drover/protocol';
import type { FieldIssue } from '@drover/protocol';
import type { Config } from '../config.js';
import { bar, percent } from '../format.js';
import { call, clientOf } from '../rpc-client.js';
import { print } from './output.js';
import type { Output } from './output.js';

/** Parses `k=v` params; a value that parses as JSON (numbers, true, {...}) is taken as such. */
export function parseParams(pairs: readonly string[]): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new Error(`--param takes key=value, got ${JSON.stringify(pair)}`);
    const raw = pair.slice(at + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // A plain string.
    }
    params[pair.slice(0, at)] = value;
  }
  return params;
}

/**
 * The job in a `--file`: JSON, an object. Its errors name the file, and where in it the JSON
 * breaks.
 */
export function readJobFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(
      code === 'ENOENT'
        ? `--file ${file}: there is no such file.`
        : `--file ${file} cannot be read: ${(error as Error).message}`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`--file ${file} is not JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new Error(
      `--file ${file} holds ${Array.isArray(parsed) ? 'an array' : JSON.stringify(parsed)}; a job is a JSON object such as {"taskType": "hello", "params": {}}.`,
    );
  return parsed as Record<string, unknown>;
}

/**
 * What a refused submission means in the command's words: the option to queue an unknown task
 * type, and, for a `--param` read as a number, boolean or null where text was wanted, how to
 * quote it.
 */
export function submitError(
  error: unknown,
  given: Record<string, unknown>,
  file: string | undefined,
): unknown {
  if (!(error instanceof DroverError)) return error;
  if (error.code === 'DROVER_E_UNKNOWN_TASK_TYPE') {
    return new DroverError(
      error.code,
      error.message.replace(
        'submit with allowUnknownType',
        'pass --allow-unknown-type (`drover workers ls` shows what the workers offer)',
      ),
      { details: error.details, cause: error },
    );
  }
  if (error.code !== 'DROVER_E_INVALID_PARAMS') return error;
  const issues = Array.isArray(error.details) ? (error.details as FieldIssue[]) : [];
  const hints = issues.flatMap((issue) => {
    const key = /^params\.([^.]+)$/.exec(issue.path)?.[1];
    if (key === undefined || !Object.hasOwn(given, key)) return [];
    const value = given[key];
    if (typeof value === 'string' || !/string/.test(issue.message)) return [];
    const read =
      typeof value === 'number'
        ? 'a number'
        : typeof value === 'boolean'
          ? 'a boolean'
          : value === null
            ? 'null'
            : 'JSON';
    const raw = JSON.stringify(value);
    const quoted = JSON.stringify(raw).replaceAll("'", "'\\''");
    return [
      `--param ${key}=${raw} was read as ${read}; for the text ${raw}, quote it as JSON: --param '${key}=${quoted}'`,
    ];
  });
  const where =
    file !== undefined && !/^Invalid params: params\./.test(error.message) ? ` (in ${file})` : '';
  return new DroverError(
    error.code,
    [
      `${error.message.replace(/^The server refused this: /, 'The job is not valid: ')}${where}`,
      ...hints,
    ].join('\n'),
    { details: error.details, cause: error },
  );
}

export async function submit(
  config: Config,
  output: Output,
  taskType: string | undefined,
  options: {
    params: string[];
    file: string | undefined;
    wait: boolean;
    name: string | undefined;
    allowUnknownType: boolean;
    /** Run it at this site (`drover sites ls`). */
    site?: string | undefined;
  },
): Promise<void> {
  const fromFile = options.file ? readJobFile(options.file) : {};
  const given = parseParams(options.params);
  if (!taskType && fromFile.taskType === undefined)
    throw new Error(
      'usage: drover submit <task type> [--param k=v ...] or drover submit --file job.json (`drover workers ls` shows the task types the workers offer)',
    );
  const submission = {
    group: config.group,
    ...fromFile,
    ...(taskType && { taskType }),
    ...(options.name && { name: options.name }),
    ...(options.params.length > 0 && {
      params: { ...(fromFile.params as object), ...given },
    }),
    ...(options.allowUnknownType && { allowUnknownType: true }),
    ...(options.site !== undefined && { site: options.site }),
  };
  const { job, created } = await call(config, 'jobs.submit', submission as never).catch(
    (error: unknown) => {
      throw submitError(error, given, options.file);
    },
  );
  const { taskTypes } = await call(config, 'taskTypes.list', {});
  const offered = new Set(taskTypes.filter((t) => t.workers > 0).map((t) => t.name));
  const types = [
    job.taskType,
    ...((submission as { then?: { taskType?: string }[] }).then ?? [])
      .map((stage) => stage.taskType)
      .filter((name): name is string => typeof name === 'string'),
  ];
  // A site job runs on the site's workers, not this farm's.
  for (const name of job.site ? [] : new Set(types)) {
    if (!offered.has(name)) {
      console.error(
        `note: no online worker offers task type "${name}" now; its tasks wait until one joins`,
      );
    }
  }
  if (!options.wait) {
    print(
      output,
      { job, created },
      () =>
        `${created ? 'submitted' : 'already submitted'} job ${job.id} (${job.taskCount} task${job.taskCount === 1 ? '' : 's'})`,
    );
    return;
  }
  // On a terminal a bar redrawn in place; in a pipe or a log, a plain line whenever the job's
  // status or its count of finished tasks changes; with --json, only the answer.
  const tty = !output.json && process.stdout.isTTY;
  const started = Date.now();
  let told = '';
  const done = await clientOf(config).waitFor(job.id, {
    onUpdate: (update) => {
      const finished = update.counts.succeeded + update.counts.failed + update.counts.cancelled;
      const counts = `${finished}/${update.taskCount} task${update.taskCount === 1 ? '' : 's'} done`;
      if (tty) {
        process.stdout.write(
          `\r${bar(update.progress)} ${percent(update.progress).padStart(4)}  ${counts}  ${update.status}  ${progressTimes(started, update.progress)}\x1b[K`,
        );
        return;
      }
      if (output.json) return;
      const line = `${update.status}, ${counts}`;
      if (line === told) return;
      told = line;
      console.log(`${new Date().toISOString().slice(11, 19)}  job ${update.id} ${line}`);
    },
  });
  if (tty) process.stdout.write('\n');
  // What it made, for a person: a one-task job's result or error, and how many files it stored.
  const [first] =
    done.taskCount === 1 ? (await call(config, 'tasks.list', { jobId: done.id })).tasks : [];
  const { artifacts } = await call(config, 'artifacts.list', {
    jobId: done.id,
    limit: 1000,
  });
  print(output, done, () =>
    [
      `job ${done.id} ${done.status}`,
      ...(first?.result !== undefined && first.result !== null
        ? [`result: ${JSON.stringify(first.result)}`]
        : []),
      ...(first?.error && done.status !== 'succeeded' ? [`error: ${first.error.message}`] : []),
      ...(artifacts.length > 0
        ? [
            `${artifacts.length} file${artifacts.length === 1 ? '' : 's'}: drover download ${done.id}`,
          ]
        : []),
    ].join('\n'),
  );
  if (done.status !== 'succeeded') process.exitCode = 1;
}

/** How long a job has run, and, once it is a little way in, about how long it has left. */
function progressTimes(startedAt: number, progress: number): string {
  const seconds = (Date.now() - startedAt) / 1000;
  const clock = (s: number) => {
    const whole = Math.round(s);
    return whole < 60
      ? `${whole}s`
      : `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, '0')}s`;
  };
  if (progress < 0.05 || progress >= 1) return clock(seconds);
  return `${clock(seconds)}, about ${clock((seconds / progress) * (1 - progress))} left`;
}

/** The newest `limit` jobs of the configured group, newest first, a page of 1,000 at a time. */
