import { useEffect, useRef, useState } from 'react';
import { topics } from '@drover/protocol';
import type { GroupRecord } from '@drover/protocol';
import { PausedBadge } from '../../components/paused.js';
import { ProgressBar, TaskCountsView } from '../../components/status.js';
import { useDrover } from '../../lib/drover.js';
import { useLiveTopic } from '../../lib/live.js';
import { describeError, isRetryable } from '../../lib/retry.js';
import { GroupRetentionView } from './group-retention.js';

/** How often, at most, the group's totals are read again while its jobs change. */
const REFRESH_MS = 1000;

/**
 * A group's progress over all its jobs (every task of every job, done or not), live: read again
 * at most once a second while the group's jobs change. And its pause: the group's jobs, and those
 * submitted into it, start no task until it is resumed. And how long it keeps its finished jobs.
 */
/** The group's limits and weight (`drover groups limit`), when it has any. */
function GroupLimitsText({ limits }: { limits: GroupRecord['limits'] }) {
  if (!limits) return null;
  const parts = [
    ...(limits.maxRunning !== null ? [`at most ${limits.maxRunning} running`] : []),
    ...(limits.ratePerMinute !== null ? [`${limits.ratePerMinute} starts a minute`] : []),
    ...(limits.weight !== 1 ? [`weight ${limits.weight}`] : []),
  ];
  if (parts.length === 0) return null;
  return (
    <span className="muted small" aria-label="group limits">
      {parts.join(', ')}
    </span>
  );
}

export function GroupSummary({ group }: { group: string }) {
  const client = useDrover();
  const [record, setRecord] = useState<GroupRecord>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const timer = useRef<ReturnType<typeof setTimeout>>(undefined);
  const lastRead = useRef(0);

  const read = () => {
    lastRead.current = Date.now();
    client.call('groups.get', { name: group }).then(setRecord, (e: unknown) => {
      if (!isRetryable(e)) setRecord(undefined);
    });
  };
  /** Reads again now, or at the end of the current second if it was read within it. */
  const schedule = () => {
    if (timer.current !== undefined) return;
    const wait = Math.max(0, lastRead.current + REFRESH_MS - Date.now());
    timer.current = setTimeout(() => {
      timer.current = undefined;
      read();
    }, wait);
  };
  useEffect(() => () => clearTimeout(timer.current), []);

  useLiveTopic({
    topic: topics.groupJobs(group),
    load: () => {
      read();
      return Promise.resolve();
    },
    onEvents: schedule,
  });

  const toggle = async () => {
    if (!record) return;
    setBusy(true);
    setError(undefined);
    try {
      const method = record.paused ? 'groups.resume' : 'groups.pause';
      setRecord((await client.call(method, { name: group })).group);
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  };

  if (!record) return null;
  const done = record.taskCounts.succeeded;
  return (
    <div
      className="group-summary"
      aria-label="group progress"
      data-group-paused={record.paused}
      data-group-done={done}
      data-group-total={record.taskCount}
    >
      <span className="group-name">
        {record.name}{' '}
        {record.paused && <PausedBadge title="its jobs start no task until the group is resumed" />}
      </span>
      <span className="group-progress">
        <ProgressBar value={record.progress} />
      </span>
      <span className="muted small">
        {done.toLocaleString()} of {record.taskCount.toLocaleString()} tasks done over{' '}
        {record.jobs.toLocaleString()} job{record.jobs === 1 ? '' : 's'}
      </span>
      <TaskCountsView counts={record.taskCounts} total={record.taskCount} />
      <GroupLimitsText limits={record.limits} />
      <button
        disabled={busy}
        onClick={() => void toggle()}
        title={
          record.paused
            ? 'Its jobs start their waiting tasks again; jobs paused on their own stay paused'
            : 'Running tasks finish; no task of the group starts, nor of jobs submitted into it, until resumed'
        }
      >
        {record.paused ? 'Resume group' : 'Pause group'}
      </button>
      <GroupRetentionView record={record} onChange={setRecord} />
      {error && (
        <span className="error-text" role="status">
          {error}
        </span>
      )}
    </div>
  );
}
