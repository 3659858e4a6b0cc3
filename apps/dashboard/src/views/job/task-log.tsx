import { useEffect, useLayoutEffect, useRef, useState } from 'react';
import { isTerminalTaskStatus, topics } from '@drover/protocol';
import type { ArtifactRecord, AttemptRecord, LogLine } from '@drover/protocol';
import { StatusBadge } from '../../components/status.js';
import { useDrover } from '../../lib/drover.js';
import { formatTime } from '../../lib/format.js';
import { useLiveTopic } from '../../lib/live.js';
import { describeError } from '../../lib/retry.js';
import type { TaskRow } from './job-store.js';
import { TaskResult } from './task-result.js';
import { TaskWhy } from './task-why.js';

/** The most lines kept on the page; older ones are dropped from the top. */
const MAX_LINES = 5000;

type Line = LogLine & { attempt: number; key: number };

/**
 * One task: its attempts, its error, its result and images, and a live tail of its log from the first line kept,
 * following new lines while scrolled to the bottom.
 */
export function TaskLog({
  task,
  workerNames,
  artifacts,
  onClose,
}: {
  task: TaskRow;
  workerNames: Map<string, string>;
  /** The job's artifacts: the task's images, and those its result names. */
  artifacts: readonly ArtifactRecord[];
  onClose: () => void;
}) {
  const client = useDrover();
  const [lines, setLines] = useState<Line[]>([]);
  const [attempts, setAttempts] = useState<AttemptRecord[]>([]);
  const keys = useRef(0);
  const box = useRef<HTMLPreElement>(null);
  const follow = useRef(true);

  const { status, error } = useLiveTopic({
    topic: topics.taskLog(task.id),
    onEvents: (events) => {
      const fresh: Line[] = [];
      for (const event of events) {
        if (event.kind !== 'task.log') continue;
        const { attempt, lines } = event.data;
        for (const line of lines) fresh.push({ ...line, attempt, key: keys.current++ });
      }
      if (fresh.length > 0) setLines((old) => [...old, ...fresh].slice(-MAX_LINES));
    },
  });

  // The attempts change when the task starts again or ends: read them then.
  useEffect(() => {
    let stopped = false;
    client.call('tasks.attempts', { id: task.id }).then(
      (r) => !stopped && setAttempts(r.attempts),
      () => undefined,
    );
    return () => {
      stopped = true;
    };
  }, [client, task.id, task.attempt, task.status]);

  useLayoutEffect(() => {
    const el = box.current;
    if (el && follow.current) el.scrollTop = el.scrollHeight;
  }, [lines]);

  return (
    <aside className="panel task-panel" aria-label="task" data-task-id={task.id}>
      <header className="panel-head">
        <strong>Task {task.index}</strong>
        <StatusBadge status={task.status} />
        <span className="muted small">{task.taskType}</span>
        <span className="muted small">id {task.id}</span>
        <button className="icon" onClick={onClose} aria-label="close the task">
          ×
        </button>
      </header>
      <TaskWhy task={task} />
      {task.error && (
        <p className="error-text">
          {task.error.code && <code>{task.error.code}</code>} {task.error.message}
        </p>
      )}
      {attempts.length > 0 && (
        <ol className="attempts" aria-label="attempts">
          {attempts.map((a) => (
            <li key={a.id} data-attempt-status={a.status}>
              <span>#{a.number}</span>{' '}
              <span className={`badge attempt-${a.status}`}>{a.status}</span>{' '}
              <span>{workerNames.get(a.workerId) ?? a.workerId.slice(0, 8)}</span>{' '}
              <span className="muted small">{formatTime(a.startedAt)}</span>
              {a.error && <span className="error-text small"> {a.error.message}</span>}
            </li>
          ))}
        </ol>
      )}
      <TaskResult taskId={task.id} result={task.result} artifacts={artifacts} />
      <pre
        className="log"
        ref={box}
        aria-label="log"
        onScroll={(e) => {
          const el = e.currentTarget;
          follow.current = el.scrollTop + el.clientHeight >= el.scrollHeight - 4;
        }}
      >
        {status === 'failed' && `Could not read the log: ${describeError(error)}\n`}
        {lines.length === 0 && status !== 'failed' && (
          <span className="muted">
            {isTerminalTaskStatus(task.status)
              ? 'This task wrote no log lines.'
              : 'No log lines yet.'}
          </span>
        )}
        {lines.map((line, i) => (
          <span key={line.key} className={`log-line log-${line.stream}`}>
            {(i === 0 || lines[i - 1]?.attempt !== line.attempt) && (
              <span className="log-attempt">
                — attempt {line.attempt} —{'\n'}
              </span>
            )}
            <span className="log-time">{line.at.slice(11, 23)}</span> {line.line}
            {'\n'}
          </span>
        ))}
      </pre>
    </aside>
  );
}
