import { DroverError } from '@drover/protocol';
import type { TaskStatus, TaskWhy, WaitReason } from '@drover/protocol';
import type { Database } from './database.js';
import type { Statements } from './statements.js';

/** What why-task.sql reads of the farm's state for one task. */
interface Facts {
  status: TaskStatus;
  runAt: string;
  now: string;
  stage: number;
  taskType: string;
  tags: string[];
  group: string;
  jobPaused: boolean;
  groupPaused: boolean;
  cancelling: boolean;
  site: string | null;
  stageBefore: { stage: number; left: number; tasks: number } | null;
  offering: number;
  missingTags: string[];
  capable: number;
  allowed: number;
  slots: number;
  busy: number;
  groupLimit: {
    maxRunning: number | null;
    ratePerMinute: number | null;
    weight: number;
    tokens: number | null;
  } | null;
  groupRunning: number;
  typeLimit: number | null;
  typeRunning: number | null;
  ahead: number | null;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/**
 * Why a task is not running (`tasks.why`), from the farm's state now: every reason that holds,
 * most specific first (decision 0036). A queued task that nothing holds back gets none.
 */
export async function whyTask(db: Database, sql: Statements, taskId: string): Promise<TaskWhy> {
  const [row] = await db.query<{ facts: Facts }>(sql.get('why-task'), [taskId]);
  if (!row) throw new DroverError('DROVER_E_NOT_FOUND', `There is no task ${taskId}.`);
  return { taskId, status: row.facts.status, reasons: reasonsFrom(row.facts) };
}

function reasonsFrom(f: Facts): WaitReason[] {
  if (f.status === 'blocked') {
    const before = f.stageBefore;
    return [
      {
        code: 'waiting_for_stage',
        message: before
          ? `It waits for stage ${before.stage} of its job: ${before.left} of ${plural(before.tasks, 'task')} not finished.`
          : `It waits for the stage before it (stage ${f.stage - 1}).`,
      },
    ];
  }
  if (f.status !== 'queued') {
    const what =
      f.status === 'leased' || f.status === 'running'
        ? 'it is running (or handed to a worker)'
        : `it has ended (${f.status})`;
    return [{ code: 'not_queued', message: `It is not waiting: ${what}.` }];
  }
  const reasons: WaitReason[] = [];
  if (f.cancelling)
    reasons.push({ code: 'cancelling', message: 'Its job is being cancelled: it will not start.' });
  if (f.site !== null)
    reasons.push({
      code: 'site_job',
      message: `Its job runs at the site ${f.site}, not on this farm's workers.`,
    });
  if (f.jobPaused) reasons.push({ code: 'job_paused', message: 'Its job is paused.' });
  if (f.groupPaused)
    reasons.push({ code: 'group_paused', message: `Its group ${f.group} is paused.` });
  if (Date.parse(f.runAt) > Date.parse(f.now))
    reasons.push({
      code: 'backing_off',
      message: `It may not start before ${f.runAt} (a retry's back-off, or the run-at it was given).`,
      until: f.runAt,
    });
  if (f.offering === 0) {
    reasons.push({
      code: 'no_worker',
      message: `No online worker offers its task type ${f.taskType}.`,
    });
  } else if (f.capable === 0) {
    reasons.push({
      code: 'missing_tags',
      message: `The ${plural(f.offering, 'online worker')} that offer ${f.taskType} lack the tags ${f.missingTags.join(', ')}.`,
    });
  } else if (f.allowed === 0) {
    reasons.push({
      code: 'blocklisted',
      message: `Every worker that can run it (${f.capable}) is blocked for its job after failing its tasks (see jobs.blocklist).`,
    });
  }
  const gl = f.groupLimit;
  if (gl?.maxRunning != null && f.groupRunning >= gl.maxRunning)
    reasons.push({
      code: 'group_limit',
      message: `Its group ${f.group} is at its limit: ${f.groupRunning}/${gl.maxRunning} running.`,
    });
  if (f.typeLimit !== null && (f.typeRunning ?? 0) >= f.typeLimit)
    reasons.push({
      code: 'type_limit',
      message: `Its task type ${f.taskType} is at its limit: ${f.typeRunning ?? 0}/${f.typeLimit} running.`,
    });
  if (gl?.ratePerMinute != null && gl.tokens !== null && gl.tokens < 1) {
    const seconds = ((1 - gl.tokens) * 60) / gl.ratePerMinute;
    const until = new Date(Date.parse(f.now) + Math.ceil(seconds * 1000)).toISOString();
    reasons.push({
      code: 'group_rate',
      message: `Its group ${f.group} started its ${gl.ratePerMinute} tasks a minute: the next may start at ${until}.`,
      until,
    });
  }
  if (f.allowed > 0 && f.busy >= f.slots)
    reasons.push({
      code: 'workers_busy',
      message: `Every worker that can run it is busy: ${plural(f.slots, 'slot')}, all full.`,
    });
  if (f.ahead !== null && f.ahead > 0)
    reasons.push({
      code: 'queue_position',
      message: `Ahead of it in its group's queue: ${plural(f.ahead, 'task')}.`,
    });
  return reasons;
}
