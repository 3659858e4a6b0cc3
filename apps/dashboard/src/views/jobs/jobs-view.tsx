import { memo, useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { useVirtualizer } from '@tanstack/react-virtual';
import { JobStatus, isTerminalJobStatus, topics } from '@drover/protocol';
import type { JobRecord } from '@drover/protocol';
import { ProgressBar, StatusBadge, TaskCountsView } from '../../components/status.js';
import { useDrover } from '../../lib/drover.js';
import { elapsed, formatAge, formatDuration, formatTime } from '../../lib/format.js';
import { useLiveTopic, useNow } from '../../lib/live.js';
import { describeError, untilDone } from '../../lib/retry.js';
import { Link, jobPath, navigate, setQuery, useQuery } from '../../lib/router.js';
import { useDeferredVersion } from '../../lib/store.js';
import { JobsStore, matches } from './jobs-store.js';
import type { JobFilter } from './jobs-store.js';
import { useGroups } from './use-groups.js';
import { BulkJobActions } from './bulk-actions.js';
import { GroupSummary } from './group-summary.js';
import { PausedBadge } from '../../components/paused.js';

const PAGE = 1000;
/** Beyond this many jobs in a group, older pages are read only when scrolled to. */
const EAGER_JOBS = 20_000;
const ROW_HEIGHT = 34;

/** The jobs of a group, live: added, updated and removed as it happens. */
export function JobsView() {
  const query = useQuery();
  const groups = useGroups();
  const group = query.get('group') ?? '';
  const filter: JobFilter = {
    status: parseStatus(query.get('status')),
    text: query.get('q') ?? '',
  };

  // With no group chosen, show the one submitted to last.
  const first = groups?.[0]?.name;
  useEffect(() => {
    if (group === '' && first !== undefined) setQuery({ group: first });
  }, [group, first]);

  return (
    <section className="view jobs-view">
      <div className="toolbar">
        <label>
          Group{' '}
          <select
            value={group}
            onChange={(e) => setQuery({ group: e.target.value })}
            aria-label="group"
          >
            {group !== '' && !groups?.some((g) => g.name === group) && (
              <option value={group}>{group}</option>
            )}
            {groups?.map((g) => (
              <option key={g.name} value={g.name}>
                {g.name} ({g.jobs}){g.paused ? ', paused' : ''}
              </option>
            ))}
          </select>
        </label>
        <input
          type="search"
          placeholder="Search name, id, task type"
          value={filter.text}
          onChange={(e) => setQuery({ q: e.target.value })}
          aria-label="search jobs"
        />
        <button className="primary" onClick={() => navigate(`/submit?group=${group}`)}>
          Submit a job
        </button>
      </div>
      {group === '' ? (
        <p className="empty">{groups?.length === 0 ? 'No jobs yet: submit one.' : 'Loading…'}</p>
      ) : (
        <>
          <GroupSummary key={`summary-${group}`} group={group} />
          <GroupJobs key={group} group={group} filter={filter} />
        </>
      )}
    </section>
  );
}

function parseStatus(value: string | null): JobFilter['status'] {
  const parsed = JobStatus.safeParse(value);
  return parsed.success ? parsed.data : 'all';
}

function GroupJobs({ group, filter }: { group: string; filter: JobFilter }) {
  const client = useDrover();
  const store = useMemo(() => new JobsStore(), []);
  useDeferredVersion(store);
  const [complete, setComplete] = useState(false);
  const [wantMore, setWantMore] = useState(false);

  /** Reads the page after the oldest job known; false once there is no more. */
  const readPage = async (signal: AbortSignal): Promise<boolean> => {
    const oldest = store.oldest();
    const { jobs } = await untilDone(
      () =>
        client.call('jobs.list', {
          group,
          limit: PAGE,
          ...(oldest && { before: oldest.createdAt, beforeId: oldest.id }),
        }),
      signal,
    );
    signal.throwIfAborted();
    store.addPage(jobs);
    if (jobs.length < PAGE) setComplete(true);
    return jobs.length === PAGE;
  };

  const { status, error } = useLiveTopic({
    topic: topics.groupJobs(group),
    load: async (signal) => {
      await readPage(signal);
    },
    onEvents: (events) => store.apply(events),
  });

  // The rest of the group, a page at a time, while the first page is already on screen; past
  // EAGER_JOBS, one more page each time the list is scrolled near its end.
  useEffect(() => {
    if (status !== 'live' || complete) return;
    if (store.size >= EAGER_JOBS && !wantMore) return;
    const controller = new AbortController();
    const more = async () => {
      let first = true;
      while ((first && wantMore) || store.size < EAGER_JOBS) {
        first = false;
        if (!(await readPage(controller.signal))) break;
      }
    };
    more()
      .catch(() => undefined)
      .finally(() => setWantMore(false));
    return () => controller.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps -- readPage reads the store as it is
  }, [status, complete, wantMore, store]);

  const all = store.all();
  const { status: only, text } = filter;
  const shown = useMemo(
    () => all.filter((job) => matches(job, { status: only, text })),
    [all, only, text],
  );
  const byStatus = useMemo(() => {
    const counts: Record<string, number> = { all: all.length };
    for (const job of all) counts[job.status] = (counts[job.status] ?? 0) + 1;
    return counts;
  }, [all]);

  const now = useNow(1000);
  const remove = useCallback(
    (job: JobRecord) => client.call('jobs.remove', { id: job.id }).then(() => undefined),
    [client],
  );
  const scroller = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: shown.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 6,
    // Scrolling renders with React's batching instead of synchronously inside the scroll event.
    useFlushSync: false,
  });
  const items = virtualizer.getVirtualItems();
  const lastIndex = items.at(-1)?.index ?? 0;
  useEffect(() => {
    if (!complete && lastIndex >= shown.length - 50 && store.size >= EAGER_JOBS) setWantMore(true);
  }, [lastIndex, shown.length, complete, store]);

  return (
    <>
      <div className="filters" role="group" aria-label="status filter">
        {(['all', ...JobStatus.options] as const).map((s) => (
          <button
            key={s}
            className={`chip ${filter.status === s ? 'active' : ''} ${s === 'all' ? '' : `status-chip-${s}`}`}
            onClick={() => setQuery({ status: s === 'all' ? undefined : s })}
            data-filter={s}
          >
            {s} <span className="chip-count">{byStatus[s] ?? 0}</span>
          </button>
        ))}
        <BulkJobActions group={group} filter={filter} shown={shown} />
        <span className="muted">
          {status === 'failed'
            ? `Could not read the jobs: ${describeError(error)}`
            : status === 'loading'
              ? 'loading…'
              : `${shown.length} shown${complete ? '' : `, ${store.size} read so far`}`}
        </span>
      </div>
      <div className="table jobs-table" role="table" aria-label="jobs">
        <div className="thead" role="row">
          <span role="columnheader">Name</span>
          <span role="columnheader">Status</span>
          <span role="columnheader">Progress</span>
          <span role="columnheader">Tasks</span>
          <span role="columnheader" className="num">
            Priority
          </span>
          <span role="columnheader" className="num">
            Age
          </span>
          <span role="columnheader" className="num">
            Duration
          </span>
          <span role="columnheader" />
        </div>
        <div className="tbody" ref={scroller}>
          <div style={{ height: virtualizer.getTotalSize(), position: 'relative' }}>
            {items.map((item) => {
              const job = shown[item.index];
              if (!job) return null;
              return <JobRow key={job.id} job={job} now={now} top={item.start} onRemove={remove} />;
            })}
          </div>
          {status === 'live' && shown.length === 0 && (
            <p className="empty">
              {all.length === 0 ? 'No jobs in this group yet.' : 'No job matches the filter.'}
            </p>
          )}
        </div>
      </div>
    </>
  );
}

/** One job; re-rendered only when its record changes or the clock ticks. */
const JobRow = memo(function JobRow({
  job,
  now,
  top,
  onRemove,
}: {
  job: JobRecord;
  now: number;
  top: number;
  onRemove: (job: JobRecord) => Promise<void>;
}) {
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<string>();
  useEffect(() => {
    if (!confirming) return;
    const timer = setTimeout(() => setConfirming(false), 4000);
    return () => clearTimeout(timer);
  }, [confirming]);
  return (
    <div
      className="tr"
      role="row"
      data-job-id={job.id}
      style={{ transform: `translateY(${top}px)`, height: ROW_HEIGHT }}
    >
      <span role="cell" className="name">
        <Link to={jobPath(job.id)} title={`${job.name}\n${job.id}`}>
          {job.name}
        </Link>
        <span className="muted small"> {job.taskType}</span>
      </span>
      <span role="cell">
        <StatusBadge status={job.status} />
        {job.paused && <PausedBadge />}
      </span>
      <span role="cell">
        <ProgressBar value={job.progress} status={job.status} />
      </span>
      <span role="cell">
        <TaskCountsView counts={job.counts} total={job.taskCount} />
      </span>
      <span role="cell" className="num">
        {job.priority}
      </span>
      <span role="cell" className="num" title={formatTime(job.createdAt)}>
        {formatAge(job.createdAt, now)}
      </span>
      <span role="cell" className="num">
        {formatDuration(elapsed(job.startedAt, job.finishedAt, now) ?? NaN)}
      </span>
      <span role="cell" className="row-actions" title={error}>
        {isTerminalJobStatus(job.status) && (
          <button
            className={confirming ? 'small danger' : 'small'}
            onClick={() => {
              if (!confirming) return setConfirming(true);
              setConfirming(false);
              onRemove(job).catch((e: unknown) => setError(describeError(e)));
            }}
          >
            {confirming ? 'sure?' : 'remove'}
          </button>
        )}
      </span>
    </div>
  );
});
