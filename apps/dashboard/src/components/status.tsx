import type { JobStatus, TaskCounts, TaskStatus, WorkerState } from '@drover/protocol';
import { formatPercent } from '../lib/format.js';

/** A job's, task's or worker's status as a coloured label (colours in styles.css). */
export function StatusBadge({ status }: { status: JobStatus | TaskStatus | WorkerState }) {
  return (
    <span className={`badge status-${status}`} data-status={status}>
      {status}
    </span>
  );
}

/** 0..1 as a bar and a percentage; `status` colours the bar. */
export function ProgressBar({ value, status }: { value: number; status?: string }) {
  const percent = formatPercent(value);
  return (
    <span className="progress" title={percent}>
      <span className="progress-track">
        <span
          className={`progress-fill ${status ? `status-${status}` : ''}`}
          style={{ transform: `scaleX(${Math.min(1, value)})` }}
        />
      </span>
      <span className="progress-label" data-progress={value}>
        {percent}
      </span>
    </span>
  );
}

/** The task statuses in the order they are shown: where tasks are headed, then where they end. */
export const TASK_STATUSES = [
  'succeeded',
  'running',
  'leased',
  'queued',
  'blocked',
  'failed',
  'cancelled',
] as const satisfies readonly TaskStatus[];

/** How many of a job's tasks are in each status: a stacked bar and the non-zero numbers. */
export function TaskCountsView({
  counts,
  total,
  labelled = false,
}: {
  counts: TaskCounts;
  total: number;
  /** Name each status beside its number, as the job's page does. */
  labelled?: boolean;
}) {
  return (
    <span className="counts" title={TASK_STATUSES.map((s) => `${s} ${counts[s]}`).join(', ')}>
      <span className="counts-bar">
        {TASK_STATUSES.map((s) =>
          counts[s] > 0 ? (
            <span
              key={s}
              className={`counts-seg status-${s}`}
              style={{ flexGrow: counts[s] / Math.max(1, total) }}
            />
          ) : null,
        )}
      </span>
      <span className="counts-numbers">
        {TASK_STATUSES.map((s) =>
          counts[s] > 0 ? (
            <span key={s} className={`count status-text-${s}`}>
              <span data-count={s}>{counts[s]}</span>
              {labelled && <span className="count-label"> {s}</span>}
            </span>
          ) : null,
        )}
      </span>
    </span>
  );
}
