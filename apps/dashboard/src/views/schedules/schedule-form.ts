import type { ScheduleCatchUp, ScheduleOverlap, ScheduleRecord } from '@drover/protocol';

/** The add/edit form as typed: the job is JSON text until it is sent. */
export interface ScheduleForm {
  name: string;
  cron: string;
  timezone: string;
  overlap: ScheduleOverlap;
  catchUp: ScheduleCatchUp;
  job: string;
}

export const EMPTY_FORM: ScheduleForm = {
  name: '',
  cron: '0 2 * * *',
  timezone: browserTimeZone(),
  overlap: 'skip',
  catchUp: 'none',
  job: JSON.stringify({ group: 'default', taskType: '', params: {} }, null, 2),
};

/** The form for editing a schedule: what it has now. */
export function formOf(schedule: ScheduleRecord): ScheduleForm {
  return {
    name: schedule.name,
    cron: schedule.cron,
    timezone: schedule.timezone,
    overlap: schedule.overlap,
    catchUp: schedule.catchUp,
    job: JSON.stringify(schedule.job, null, 2),
  };
}

/**
 * What `schedules.add` (or `update`) is sent, or what is wrong with the form before anything is
 * sent: the job must be a JSON object. The rest is checked by the server, which names it.
 */
export function parseForm(form: ScheduleForm):
  | {
      name: string;
      cron: string;
      timezone: string;
      overlap: ScheduleOverlap;
      catchUp: ScheduleCatchUp;
      job: Record<string, unknown>;
    }
  | string {
  if (form.name.trim() === '') return 'Give the schedule a name.';
  if (form.cron.trim() === '') return 'Give a cron expression, such as */5 * * * *.';
  let job: unknown;
  try {
    job = JSON.parse(form.job);
  } catch (error) {
    return `The job is not JSON: ${(error as Error).message}`;
  }
  if (typeof job !== 'object' || job === null || Array.isArray(job))
    return 'The job is a JSON object, such as {"group": "renders", "taskType": "fractal.julia", "params": {}}.';
  return {
    name: form.name.trim(),
    cron: form.cron.trim().replace(/\s+/g, ' '),
    timezone: form.timezone.trim() || 'UTC',
    overlap: form.overlap,
    catchUp: form.catchUp,
    job: job as Record<string, unknown>,
  };
}

function browserTimeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

/** The IANA zones the browser knows, for the form's suggestions. */
export function timeZones(): string[] {
  const intl = Intl as { supportedValuesOf?: (key: string) => string[] };
  return intl.supportedValuesOf?.('timeZone') ?? ['UTC'];
}
