import { useMemo } from 'react';
import type uPlot from 'uplot';
import type { FarmOverview, FarmSample, OverviewWorker } from '@drover/protocol';
import { ProgressBar, StatusBadge } from '../../components/status.js';
import { formatDuration, formatTime } from '../../lib/format.js';
import { useNow } from '../../lib/live.js';
import { describeError } from '../../lib/retry.js';
import { Link, jobPath, setQuery, useQuery } from '../../lib/router.js';
import { FarmChart } from './farm-chart.js';
import type { ChartSeries } from './farm-chart.js';
import { DEFAULT_RANGE, RANGES, useHistory, useOverview } from './use-farm.js';

const THROUGHPUT: readonly ChartSeries[] = [
  { label: 'succeeded', colour: '#17873b', fill: true, unit: '/s' },
  { label: 'failed', colour: '#c2261d', unit: '/s' },
];
const QUEUE: readonly ChartSeries[] = [
  { label: 'queued', colour: '#5b6b82', fill: true },
  { label: 'running', colour: '#2357d8', fill: true },
  { label: 'busy workers', colour: '#b86a00' },
];
const FAILURES: readonly ChartSeries[] = [{ label: 'failed', colour: '#c2261d', bars: true }];

/**
 * The farm at a glance, the dashboard's first page: headline figures, the throughput, queue and
 * failures over time (from the servers' samples), and every connected worker with what it runs.
 */
export function OverviewView() {
  const query = useQuery();
  const range = RANGES.find((r) => r.key === query.get('range')) ?? DEFAULT_RANGE;
  const { overview, error } = useOverview();
  const history = useHistory(range);
  const charts = useMemo(
    () => chartData(history.samples, history.step),
    [history.samples, history.step],
  );
  const now = useNow(1000);

  return (
    <section className="view overview-view">
      {error !== undefined && (
        <p className="error-text">Could not read the farm: {describeError(error)}</p>
      )}
      <Headline overview={overview} />
      <div className="toolbar">
        <h2>Over time</h2>
        <span className="spacer" />
        <span className="range-picker" role="group" aria-label="range">
          {RANGES.map((r) => (
            <button
              key={r.key}
              type="button"
              className={`small ${r.key === range.key ? 'active' : ''}`}
              aria-pressed={r.key === range.key}
              onClick={() => setQuery({ range: r === DEFAULT_RANGE ? undefined : r.key })}
            >
              {r.label}
            </button>
          ))}
        </span>
      </div>
      <div className="farm-charts">
        <FarmChart
          name="throughput"
          title="Throughput (tasks/s)"
          series={THROUGHPUT}
          data={charts.throughput}
        />
        <FarmChart name="queue" title="Queue depth" series={QUEUE} data={charts.queue} counts />
        <FarmChart
          name="failures"
          title={`Failures (tasks per ${formatDuration(history.step)})`}
          series={FAILURES}
          data={charts.failures}
          counts
        />
      </div>
      {history.samples.length === 0 && (
        <p className="muted small">
          The servers record a sample every few seconds: the charts fill in as they come.
        </p>
      )}
      <h2>
        Workers{' '}
        <span className="muted small">
          {overview ? `${overview.workers.length} connected` : ''}
        </span>
      </h2>
      {overview && <WorkersTable workers={overview.workers} now={now} />}
      {overview?.workersTruncated && (
        <p className="muted small">
          The first 1,000 connected workers by name. <Link to="/workers">See them all.</Link>
        </p>
      )}
    </section>
  );
}

function Headline({ overview: o }: { overview: FarmOverview | undefined }) {
  const states = o?.workerStates ?? {};
  const connected = o
    ? Object.entries(states).reduce((n, [state, count]) => n + (state === 'offline' ? 0 : count), 0)
    : 0;
  const perSecond = o ? (o.lastMinute.succeeded + o.lastMinute.failed) / 60 : 0;
  const figures = [
    { key: 'queued', label: 'queued', value: o?.queued, note: o ? `${o.blocked} blocked` : '' },
    { key: 'running', label: 'running', value: o?.running, note: '' },
    {
      key: 'workers',
      label: 'workers online',
      value: o ? connected : undefined,
      note: o ? `${o.workersBusy} busy, ${states.offline ?? 0} offline` : '',
    },
    {
      key: 'throughput',
      label: 'tasks/s, last minute',
      value: o ? formatRate(perSecond) : undefined,
      note: o ? `${o.lastMinute.succeeded} succeeded, ${o.lastMinute.failed} failed` : '',
    },
    {
      key: 'failed',
      label: 'failed, last hour',
      value: o?.failedLastHour,
      note: '',
      bad: (o?.failedLastHour ?? 0) > 0,
    },
  ];
  return (
    <div className="headline" data-at={o?.at}>
      {figures.map((f) => (
        <div
          key={f.key}
          className={`figure ${f.bad ? 'bad' : ''}`}
          data-figure={f.key}
          data-value={f.value ?? ''}
        >
          <span className="figure-value">{f.value ?? '–'}</span>
          <span className="figure-label">{f.label}</span>
          <span className="figure-note muted small">{f.note}</span>
        </div>
      ))}
    </div>
  );
}

function WorkersTable({ workers, now }: { workers: readonly OverviewWorker[]; now: number }) {
  const sorted = useMemo(
    () => [...workers].sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true })),
    [workers],
  );
  if (sorted.length === 0) return <p className="empty">No worker is connected.</p>;
  return (
    <table className="grid overview-workers" aria-label="workers now">
      <thead>
        <tr>
          <th>Worker</th>
          <th>State</th>
          <th className="num">Slots</th>
          <th>Running now</th>
          <th>Progress</th>
          <th className="num">For</th>
        </tr>
      </thead>
      <tbody>
        {sorted.map((w) => {
          const busy = w.tasks.length + w.hiddenTasks;
          const rows = Math.max(1, w.tasks.length);
          return w.tasks.length === 0 ? (
            <tr key={w.id} data-worker-name={w.name} data-busy={busy > 0}>
              <WorkerCells worker={w} busy={busy} rows={1} />
              <td className="muted" colSpan={3}>
                {w.hiddenTasks > 0
                  ? `${w.hiddenTasks} task${w.hiddenTasks === 1 ? '' : 's'} of other groups`
                  : 'idle'}
              </td>
            </tr>
          ) : (
            w.tasks.map((t, i) => (
              <tr
                key={`${w.id}-${t.taskId}`}
                data-worker-name={w.name}
                data-busy="true"
                data-task-id={t.taskId}
              >
                {i === 0 && <WorkerCells worker={w} busy={busy} rows={rows} />}
                <td className="ellipsis current-task">
                  <Link
                    to={`${jobPath(t.jobId)}?task=${encodeURIComponent(t.taskId)}`}
                    title={`${t.group} / ${t.jobName}, task ${t.index}, attempt ${t.attempt}`}
                  >
                    {t.jobName}
                  </Link>{' '}
                  <span className="muted">
                    #{t.index}
                    {t.attempt > 1 ? ` · attempt ${t.attempt}` : ''}
                  </span>
                  {t.message && <span className="muted small"> {t.message}</span>}
                </td>
                <td className="meter">
                  <ProgressBar value={t.progress} status={t.status} />
                </td>
                <td className="num" title={formatTime(t.startedAt)}>
                  {formatDuration(Math.max(0, now - Date.parse(t.startedAt)))}
                </td>
              </tr>
            ))
          );
        })}
      </tbody>
    </table>
  );
}

function WorkerCells({
  worker: w,
  busy,
  rows,
}: {
  worker: OverviewWorker;
  busy: number;
  rows: number;
}) {
  return (
    <>
      <td className="name" rowSpan={rows} title={w.host}>
        <Link to={`/workers?q=${encodeURIComponent(w.name)}`}>{w.name}</Link>
      </td>
      <td rowSpan={rows}>
        <StatusBadge status={w.state} />
      </td>
      <td className="num" rowSpan={rows}>
        {busy}/{w.slots}
      </td>
    </>
  );
}

function formatRate(perSecond: number): string {
  if (perSecond === 0) return '0';
  if (perSecond < 0.1) return perSecond.toFixed(2);
  return perSecond < 10 ? perSecond.toFixed(1) : String(Math.round(perSecond));
}

/**
 * The samples as uPlot's columns. Where the servers recorded nothing for more than two buckets
 * (all were down), a point of nulls breaks the lines instead of drawing across the gap.
 */
function chartData(
  samples: readonly FarmSample[],
  step: number,
): { throughput: uPlot.AlignedData; queue: uPlot.AlignedData; failures: uPlot.AlignedData } {
  const x: number[] = [];
  const ok: (number | null)[] = [];
  const bad: (number | null)[] = [];
  const queued: (number | null)[] = [];
  const running: (number | null)[] = [];
  const busy: (number | null)[] = [];
  const failed: (number | null)[] = [];
  let last: number | undefined;
  for (const s of samples) {
    const at = Date.parse(s.at) / 1000;
    // A bucket holds a sample or more: the gap is told against the wider of the two.
    const width = Math.max(step, s.intervalMs) / 1000;
    if (last !== undefined && at - last > 2 * width) {
      x.push(last + width);
      for (const column of [ok, bad, queued, running, busy, failed]) column.push(null);
    }
    last = at;
    const seconds = Math.max(1, s.intervalMs / 1000);
    x.push(at);
    ok.push(s.succeeded / seconds);
    bad.push(s.failed / seconds);
    queued.push(s.queued);
    running.push(s.running);
    busy.push(s.workersBusy);
    failed.push(s.failed);
  }
  return {
    throughput: [x, ok, bad],
    queue: [x, queued, running, busy],
    failures: [x, failed],
  };
}
