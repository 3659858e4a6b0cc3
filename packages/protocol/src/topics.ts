import { z } from 'zod';
import { GroupName, JobId, TaskId } from './ids.js';

/**
 * Event topics. A subscriber reads one topic after a cursor:
 * - `jobs/<group>`: the jobs of a group (added, updated, removed);
 * - `job/<jobId>`: one job and its tasks;
 * - `task/<taskId>/log`: one task's log lines;
 * - `workers`: every worker;
 * - `refusals`: reports refused for carrying a stale lease token.
 */
export const topics = {
  groupJobs: (group: string): `jobs/${string}` => `jobs/${group}`,
  job: (jobId: string): `job/${string}` => `job/${jobId}`,
  taskLog: (taskId: string): `task/${string}/log` => `task/${taskId}/log`,
  workers: 'workers',
  refusals: 'refusals',
} as const;

export const Topic = z.union([
  z.templateLiteral(['jobs/', GroupName]),
  z.templateLiteral(['job/', JobId]),
  z.templateLiteral(['task/', TaskId, '/log']),
  z.literal('workers'),
  z.literal('refusals'),
]);
export type Topic = z.infer<typeof Topic>;
