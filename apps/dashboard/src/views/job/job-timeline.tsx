import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { TimelineAttempt } from '@drover/protocol';
import { useDrover } from '../../lib/drover.js';
import { formatDuration, formatTime } from '../../lib/format.js';
import { describeError } from '../../lib/retry.js';

/** While the job runs, its timeline is read again at most this often, in ms (a long one less). */
const REFRESH_MS = 2000;
const LONG_REFRESH_MS = 5000;
const LONG = 500;
const LANE_PX = 12;

interface Row {
  worker: string;
  /** Each attempt with the lane it is drawn in: attempts that overlap on a worker stack. */
  bars: { attempt: TimelineAttempt; lane: number; start: number; end: number }[];
  lanes: number;
}

/**
 * A job's attempts across its workers, as Flamenco and Hatchet draw them: a row per worker, a bar
 * per attempt from its start to its end (or now), coloured by how it ended. Hovering a bar names
 * its task; clicking selects the task. Read with `jobs.timeline` (the latest 2,000 attempts) and
 * again, at most every 2 s, while the job's events say its tasks change.
 */
export function JobTimeline({
  jobId,
  changes,
  running,
  now,
  selected,
  onSelect,
}: {
  jobId: string;
  /** Changes whenever the job's events touched its tasks: the timeline is read again then. */
  changes: number;
  running: boolean;
  now: number;
  selected: string | undefined;
  onSelect: (taskId: string) => void;
}) {
  const client = useDrover();
  const [timeline, setTimeline] = useState<{ attempts: TimelineAttempt[]; truncated: boolean }>();
  const [error, setError] = useState<unknown>();
  const lastRead = useRef(0);
  /** How many attempts the last answer had: a long timeline is read less often. */
  const size = useRef(0);
  const reading = useRef(false);
  /** Changes came while a read was under way: read again once it is answered. */
  const stale = useRef(false);
  const [reread, setReread] = useState(0);
  const alive = useRef(true);
  useEffect(() => {
    alive.current = true;
    return () => {
      alive.current = false;
    };
  }, []);

  // An answer is always taken, even when changes came meanwhile: on a busy job, changes come
  // faster than a read is answered, and dropping answers would keep the timeline from updating.
  const read = useCallback(() => {
    if (reading.current) {
      stale.current = true;
      return;
    }
    reading.current = true;
    lastRead.current = Date.now();
    client
      .call('jobs.timeline', { id: jobId })
      .then(
        (next) => {
          if (!alive.current) return;
          size.current = next.attempts.length;
          setTimeline(next);
          setError(undefined);
        },
        (e: unknown) => {
          if (alive.current) setError(e);
        },
      )
      .finally(() => {
        reading.current = false;
        if (stale.current && alive.current) {
          stale.current = false;
          setReread((n) => n + 1);
        }
      });
  }, [client, jobId]);

  useEffect(() => {
    const every = size.current > LONG ? LONG_REFRESH_MS : REFRESH_MS;
    const timer = setTimeout(read, Math.max(0, lastRead.current + every - Date.now()));
    return () => clearTimeout(timer);
  }, [read, changes, reread]);

  const { rows, from, to } = useMemo(
    () => layout(timeline?.attempts ?? [], running ? now : undefined),
    [timeline, running, now],
  );

  if (error !== undefined && !timeline)
    return <p className="error-text">Could not read the timeline: {describeError(error)}</p>;
  if (!timeline || timeline.attempts.length === 0) return null;
  const span = Math.max(1, to - from);
  const pct = (t: number) => ((t - from) / span) * 100;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => from + f * span);

  return (
    <section className="timeline" aria-label="timeline" data-attempts={timeline.attempts.length}>
      <header className="timeline-head">
        <h2>Timeline</h2>
        <span className="muted small">
          {timeline.attempts.length} attempt{timeline.attempts.length === 1 ? '' : 's'} on{' '}
          {rows.length} worker{rows.length === 1 ? '' : 's'}
          {timeline.truncated && ', the latest only'}
        </span>
        <span className="spacer" />
        <span className="timeline-legend small">
          {['succeeded', 'active', 'failed', 'lost', 'cancelled'].map((s) => (
            <span key={s}>
              <i className={`tl-key tl-${s}`} /> {s === 'active' ? 'running' : s}
            </span>
          ))}
        </span>
      </header>
      <div className="timeline-rows">
        {rows.map((row) => (
          <div className="timeline-row" key={row.worker} data-worker-name={row.worker}>
            <span className="timeline-worker ellipsis" title={row.worker}>
              {row.worker}
            </span>
            <svg
              className="timeline-track"
              height={row.lanes * LANE_PX + 2}
              role="img"
              aria-label={`attempts on ${row.worker}`}
            >
              {row.bars.map(({ attempt: a, lane, start, end }) => (
                <rect
                  key={a.id}
                  className={`tl-bar tl-${a.status} ${a.taskId === selected ? 'selected' : ''}`}
                  data-attempt-id={a.id}
                  data-task-id={a.taskId}
                  data-status={a.status}
                  x={`${pct(start)}%`}
                  width={`${Math.max(0.25, pct(end) - pct(start))}%`}
                  y={lane * LANE_PX + 1}
                  height={LANE_PX - 2}
                  rx={2}
                  onClick={() => onSelect(a.taskId)}
                >
                  <title>
                    {`task ${a.index}, attempt ${a.number}: ${a.status === 'active' ? 'running' : a.status}\n` +
                      `${formatTime(a.startedAt)} for ${formatDuration(end - start)}`}
                  </title>
                </rect>
              ))}
            </svg>
          </div>
        ))}
        <div className="timeline-row timeline-axis" aria-hidden="true">
          <span className="timeline-worker" />
          <span className="timeline-ticks">
            {ticks.map((t, i) => (
              <span key={i} style={{ left: `${(i / (ticks.length - 1)) * 100}%` }}>
                {i === 0 ? clock(t) : `+${formatDuration(t - from)}`}
              </span>
            ))}
          </span>
        </div>
      </div>
    </section>
  );
}

/** Rows by worker name; in each, attempts in the first lane free at their start. */
function layout(
  attempts: readonly TimelineAttempt[],
  now: number | undefined,
): { rows: Row[]; from: number; to: number } {
  const byWorker = new Map<string, Row>();
  let from = Infinity;
  let to = -Infinity;
  const sorted = [...attempts].sort((a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt));
  const laneEnds = new Map<string, number[]>();
  for (const attempt of sorted) {
    const start = Date.parse(attempt.startedAt);
    const end = attempt.finishedAt ? Date.parse(attempt.finishedAt) : Math.max(start, now ?? start);
    from = Math.min(from, start);
    to = Math.max(to, end);
    const row = byWorker.get(attempt.workerName) ?? {
      worker: attempt.workerName,
      bars: [],
      lanes: 1,
    };
    byWorker.set(attempt.workerName, row);
    const ends = laneEnds.get(attempt.workerName) ?? [];
    laneEnds.set(attempt.workerName, ends);
    let lane = ends.findIndex((e) => e <= start);
    if (lane < 0) lane = ends.length;
    ends[lane] = end;
    row.lanes = Math.max(row.lanes, lane + 1);
    row.bars.push({ attempt, lane, start, end });
  }
  const rows = [...byWorker.values()].sort((a, b) =>
    a.worker.localeCompare(b.worker, undefined, { numeric: true }),
  );
  return { rows, from: Number.isFinite(from) ? from : 0, to: Number.isFinite(to) ? to : 1 };
}

function clock(ms: number): string {
  return new Date(ms).toLocaleTimeString(undefined, { hour12: false });
}
