import type { Database } from './database.js';
import type { Statements } from './statements.js';

/** The farm's state as gauges: what every server of the farm reads the same from the database. */
export interface FarmGauges {
  /** Tasks by status, group and their job's task type. */
  tasks: { status: string; group: string; taskType: string; count: number }[];
  /** Tasks a worker may take now, by task type, and how long the oldest has waited (seconds). */
  queue: { taskType: string; depth: number; oldestWaitSeconds: number }[];
  /** Workers by state. */
  workers: { state: string; count: number }[];
}

interface Row {
  series: 'tasks' | 'queue' | 'workers';
  a: string;
  b: string | null;
  c: string | null;
  value: number;
  age: number | null;
}

/** One aggregate statement: a scan of jobs and workers, and of the queue's partial index. */
export async function farmGauges(db: Database, sql: Statements): Promise<FarmGauges> {
  const rows = await db.query<Row>(sql.get('farm-metrics'));
  const gauges: FarmGauges = { tasks: [], queue: [], workers: [] };
  for (const row of rows) {
    if (row.series === 'tasks')
      gauges.tasks.push({
        status: row.a,
        group: row.b ?? '',
        taskType: row.c ?? '',
        count: Number(row.value),
      });
    else if (row.series === 'queue')
      gauges.queue.push({
        taskType: row.a,
        depth: Number(row.value),
        oldestWaitSeconds: Number(row.age ?? 0),
      });
    else gauges.workers.push({ state: row.a, count: Number(row.value) });
  }
  return gauges;
}
