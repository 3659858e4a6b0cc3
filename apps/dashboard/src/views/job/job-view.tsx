import { useEffect, useMemo } from 'react';
import { isTerminalJobStatus, topics } from '@drover/protocol';
import { PausedBadge } from '../../components/paused.js';
import { ProgressBar, StatusBadge, TaskCountsView } from '../../components/status.js';
import { useDrover } from '../../lib/drover.js';
import { elapsed, formatDuration, formatTime } from '../../lib/format.js';
import { useLiveTopic, useNow } from '../../lib/live.js';
import { describeError, untilDone } from '../../lib/retry.js';
import { ScheduledBy } from '../schedules/scheduled-by.js';
import { Link, setQuery, useQuery } from '../../lib/router.js';
import { useDeferredVersion } from '../../lib/store.js';
import { useWorkerNames } from '../workers/use-worker-names.js';
import { Artifacts } from './artifacts.js';
import { JobActions } from './job-actions.js';
import { JobBlocklist } from './job-blocklist.js';
import { JobStore } from './job-store.js';
import { JobTimeline } from './job-timeline.js';
import { TaskLog } from './task-log.js';
import { TaskTable } from './task-table.js';
import { ThroughputChart } from './throughput-chart.js';

const TASK_PAGE = 10_000;
const ARTIFACT_PAGE = 10_000;

/** One job, live: its state and actions, its tasks, a task's log, its artifacts. */
export function JobView({ id }: { id: string }) {
  return <LiveJob key={id} id={id} />;
}

function LiveJob({ id }: { id: string }) {
  const client = useDrover();
  const store = useMemo(() => new JobStore(), []);
  const version = useDeferredVersion(store);
  const query = useQuery();
  const selected = query.get('task') ?? undefined;

  const { status, error } = useLiveTopic({
    topic: topics.job(id),
    load: async (signal) => {
      store.setJob(await untilDone(() => client.call('jobs.get', { id }), signal));
      for (let fromIndex = 0; ; fromIndex += TASK_PAGE) {
        const { tasks } = await untilDone(
          () => client.call('tasks.list', { jobId: id, fromIndex, limit: TASK_PAGE }),
          signal,
        );
        store.addTasks(tasks);
        if (tasks.length < TASK_PAGE) break;
      }
      for (let after: string | undefined; ;) {
        const { artifacts } = await untilDone(
          () =>
            client.call('artifacts.list', {
              jobId: id,
              limit: ARTIFACT_PAGE,
              ...(after !== undefined && { after }),
            }),
          signal,
        );
        store.addArtifacts(artifacts);
        after = artifacts.at(-1)?.id;
        if (artifacts.length < ARTIFACT_PAGE) break;
      }
    },
    onEvents: (events) => store.apply(events),
  });

  // A job given more tasks (jobs.extend) says so in its record: read those not read yet.
  const taskCount = store.job?.taskCount ?? 0;
  useEffect(() => {
    if (status !== 'live') return;
    const missing = store.tasks.findIndex((t) => t === undefined);
    const from = missing < 0 ? store.tasks.length : missing;
    if (from >= taskCount) return;
    const controller = new AbortController();
    const more = async () => {
      for (let fromIndex = from; fromIndex < taskCount; fromIndex += TASK_PAGE) {
        const { tasks } = await untilDone(
          () => client.call('tasks.list', { jobId: id, fromIndex, limit: TASK_PAGE }),
          controller.signal,
        );
        store.addTasks(tasks);
        if (tasks.length < TASK_PAGE) break;
      }
    };
    more().catch(() => undefined);
    return () => controller.abort();
  }, [client, id, store, status, taskCount]);

  const now = useNow(1000);
  const workerIds = useMemo(() => {
    const ids = new Set<string | null>();
    for (const t of store.tasks) if (t?.workerId) ids.add(t.workerId);
    return ids;
  }, [store.tasks]);
  const workerNames = useWorkerNames(workerIds);

  const job = store.job;
  if (store.removed) {
    return (
      <section className="view" data-job-removed={id}>
        <p className="empty">
          This job was removed.{' '}
          {job && <Link to={`/jobs?group=${encodeURIComponent(job.group)}`}>{job.group}</Link>}
        </p>
      </section>
    );
  }
  if (!job) {
    return (
      <section className="view">
        <p className={status === 'failed' ? 'error-text' : 'empty'}>
          {status === 'failed' ? `Could not read job ${id}: ${describeError(error)}` : 'Loading…'}
        </p>
      </section>
    );
  }
  const task = selected === undefined ? undefined : store.taskById(selected);
  const running = !isTerminalJobStatus(job.status);
  const started = Date.parse(job.startedAt ?? job.createdAt);
  const ended = job.finishedAt ? Date.parse(job.finishedAt) : now;

  return (
    <section
      className="view job-view"
      data-job-id={job.id}
      data-job-status={job.status}
      data-job-paused={job.paused}
    >
      <header className="job-head">
        <div className="job-title">
          <div className="crumbs">
            <Link to={`/jobs?group=${encodeURIComponent(job.group)}`}>{job.group}</Link> /
          </div>
          <h1>{job.name}</h1>
          <StatusBadge status={job.status} />
          {job.paused && <PausedBadge />}
        </div>
        <div className="job-facts">
          <ProgressBar value={job.progress} status={job.status} />
          <TaskCountsView counts={job.counts} total={job.taskCount} labelled />
          <dl>
            <dt>tasks</dt>
            <dd>{job.taskCount}</dd>
            <dt>type</dt>
            <dd>{job.taskType}</dd>
            <dt>priority</dt>
            <dd data-priority={job.priority}>{job.priority}</dd>
            <dt>created</dt>
            <dd>{formatTime(job.createdAt)}</dd>
            <dt>{running ? 'running for' : 'took'}</dt>
            <dd>{formatDuration(elapsed(job.startedAt, job.finishedAt, now) ?? NaN)}</dd>
            <dt>id</dt>
            <dd className="mono small">{job.id}</dd>
            <ScheduledBy job={job} />
          </dl>
          {job.cancelReason && <p className="muted small">Cancelled: {job.cancelReason}</p>}
        </div>
        <ThroughputChart tasks={store.tasks} from={started} to={ended} />
      </header>
      <JobActions job={job} onJob={(next) => store.setJob(next)} />
      <JobBlocklist jobId={job.id} />
      <JobTimeline
        jobId={job.id}
        changes={version}
        running={running}
        now={now}
        selected={selected}
        onSelect={(taskId) => setQuery({ task: taskId })}
      />
      <div className={`job-body ${task ? 'with-panel' : ''}`}>
        <TaskTable
          tasks={store.tasks}
          workerNames={workerNames}
          selected={selected}
          onSelect={(taskId) => setQuery({ task: taskId === selected ? undefined : taskId })}
          now={now}
        />
        {task && (
          <TaskLog
            key={task.id}
            task={task}
            workerNames={workerNames}
            artifacts={store.artifacts}
            onClose={() => setQuery({ task: undefined })}
          />
        )}
      </div>
      <h2>
        Artifacts <span className="muted small">{store.artifacts.length}</span>
      </h2>
      <Artifacts artifacts={store.artifacts} />
    </section>
  );
}
